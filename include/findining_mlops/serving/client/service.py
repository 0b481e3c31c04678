"""The app's view of the models: the seed's ``mlService`` for Python callers.

``MLService`` calls the models' endpoints and takes part in A/B tests: while a test runs on
a model's endpoint, each user is sent to their own arm's variant (``TargetVariant``) on
every request, and ``record_ab_test_result`` files the user's outcomes under that arm.

As in the guide, a service configures it from its environment (``MLService.from_env``):
``<MODEL>_ENDPOINT_NAME`` (``RECOMMENDATION_ENDPOINT_NAME``, ``SENTIMENT_ENDPOINT_NAME``)
names the endpoint it calls, by default the one the pipeline deploys, and ``AWS_REGION``
the region when ``FINDINING_AWS_REGION`` is not set (``settings``), and
``FINDINING_CACHE_URL`` a Redis for the answer cache (``serving.cache``).

Under load it degrades gracefully (``serving.resilience``): each call has the model's
time-out, idempotent inferences are retried with jitter, a circuit breaker per endpoint
refuses quickly while the endpoint is failing, and answers are cached under the endpoint's
live configuration and the user's A/B arm for the model's ``cache_ttl_s``. When the
endpoint cannot answer, a model with a ``fallback`` in the catalog (recommendation:
popularity in the district) answers with it, marked ``"fallback": true`` and counted; the
others raise ``ModelUnavailableError``: no label is ever made up.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypedDict

from findining_mlops.abtest import lifecycle
from findining_mlops.config.catalog import get_model, model_names
from findining_mlops.errors import ABTestError, EndpointError
from findining_mlops.platform.ports import RUNNING, ABTest, Invocation, MetricDatum, MetricEvent, Platform
from findining_mlops.registry import versions
from findining_mlops.serving.client.cache import AnswerCache, LRUCache, cache_from_env, cache_key
from findining_mlops.serving.client.fallback import PopularityFallback
from findining_mlops.serving.client.resilience import CircuitBreaker, is_caller_error, with_retries

TEST_REFRESH_S = 30.0  # how stale the client's view of running tests may be
SERVING_NAMESPACE = "FindDining/Serving"
PUBLISH_EVERY_S = 10.0  # the client's counters reach the metrics store at most this late
COUNTERS = ("Requests", "CacheHits", "CacheMisses", "Fallbacks", "Unavailable")


class ModelServingStats(TypedDict):
    """What this client did for one model since it started: each of ``COUNTERS`` in lower case, and more."""

    requests: int
    cachehits: int
    cachemisses: int
    fallbacks: int
    unavailable: int
    cache_hit_rate: float | None  # None before any cache look-up
    breakers: dict[str, str]  # endpoint or endpoint/variant -> the breaker's state


class ModelUnavailableError(EndpointError):
    """The model's endpoint cannot answer now (after retries, or its breaker is open) and the
    model has no fallback: the app must say so rather than show a made-up answer."""


@dataclass(frozen=True)
class Served:
    """A model's answer and where it came from."""

    body: dict
    variant: str
    inference_id: str
    latency_ms: float
    test_id: str | None = None
    arm: str | None = None
    fallback: bool = False  # the body is the model's fallback, not the model's answer
    cached: bool = False  # the body was cached (from the same live endpoint configuration)


def endpoint_names(env: Mapping[str, str]) -> dict[str, str]:
    """Each model's endpoint: ``<MODEL>_ENDPOINT_NAME`` when set, else the pipeline's."""
    return {name: env.get(f"{name.upper()}_ENDPOINT_NAME", "").strip() or get_model(name).endpoint_name
            for name in model_names()}


class MLService:
    def __init__(self, platform: Platform, refresh_s: float = TEST_REFRESH_S,
                 endpoints: Mapping[str, str] | None = None, cache: AnswerCache | None = None,
                 use_cache: bool = True, clock=time.monotonic, seed: int | None = None):
        self.platform = platform
        self.refresh_s = refresh_s
        self.endpoints = dict(endpoints) if endpoints else endpoint_names({})
        self.cache = (cache or LRUCache()) if use_cache else None
        self._tests: dict[str, ABTest] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()
        self._clock = clock
        self._rng = random.Random(seed)
        self._breakers: dict[str, CircuitBreaker] = {}
        self.fallbacks = {"popularity": PopularityFallback(platform)}
        self.counts: Counter[tuple[str, str]] = Counter()  # (model, counter) -> since the service started
        self._unpublished: Counter[tuple[str, str]] = Counter()
        self._published_at = clock()
        self.feedback_analyzer = None  # a feedback.results.Analyzer; built on first use

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MLService:
        """The client as the guide's microservices configure it: the backend's settings and
        the endpoint names from the environment."""
        from findining_mlops.config.settings import Settings
        from findining_mlops.platform import get_platform

        env = os.environ if env is None else env
        return cls(get_platform(Settings.from_env(env)), endpoints=endpoint_names(env), cache=cache_from_env(env))

    # -- the seed's mlService ---------------------------------------------------------
    def get_recommendations(self, user_id: str, user_preferences: dict, emotional_state: str, *, time_of_day: str,
                            district: str, candidates: list[dict], inference_id: str | None = None,
                            event_time: datetime | None = None) -> Served:
        """The candidates ranked for this user (``ranking``, best first, and ``scores``)."""
        request = {"user_id": user_id, "user_preferences": user_preferences, "emotional_state": emotional_state,
                   "time_of_day": time_of_day, "district": district, "candidates": candidates}
        return self.invoke("recommendation", user_id, request, inference_id=inference_id, event_time=event_time)

    def analyze_review(self, text: str, *, user_id: str | None = None, inference_id: str | None = None,
                       event_time: datetime | None = None) -> Served:
        """The review's sentiment (``label`` and per-class ``scores``)."""
        return self.invoke("sentiment", user_id, {"text": text}, inference_id=inference_id, event_time=event_time)

    def analyze_negative_feedback(self, text: str):
        """The seed's ``analyzeNegativeFeedback``: aspects with severity and evidence, summary,
        suggested reply and needs-attention, as a ``feedback.results.FeedbackResult`` (refused
        with a reason when ``text`` is not feedback). The analyzer is the one handed to the
        service (e.g. Bedrock's), else the live aspect and sentiment models, loaded once."""
        from findining_mlops.feedback.local import LocalAnalyzer
        from findining_mlops.feedback.results import analyze

        with self._lock:
            if self.feedback_analyzer is None:
                self.feedback_analyzer = LocalAnalyzer.from_platform(self.platform)
        return analyze(self.feedback_analyzer, text)

    def record_ab_test_result(self, user_id: str, model_name: str, metric_name: str, metric_value: float,
                              context: dict | None = None) -> bool:
        """Files one outcome of the user in the model's running test; True when it is new.

        ``context`` may carry ``inference_id`` (the request the outcome belongs to) or
        ``event_id``, which make a resent result count once, and ``timestamp``."""
        return self.record_ab_test_results([(user_id, model_name, metric_name, metric_value, context or {})]) == 1

    def record_ab_test_results(self, results: list[tuple[str, str, str, float, dict]]) -> int:
        """Many ``record_ab_test_result`` calls as one batch per test (a parquet file per day of the test's events,
        named by the batch: the same results sent again are found and not counted); returns how many were new."""
        tests = {model: self.running_test(model) for model in {result[1] for result in results}}
        batches: dict[str, list[MetricEvent]] = {}
        for user, model, metric, value, context in results:
            event = self._event(tests[model], user, model, metric, value, context)
            batches.setdefault(event.test_id, []).append(event)
        return sum(self.platform.abtests.record(events) for events in batches.values())

    def health_check(self) -> dict:
        """Each model's endpoint: status and variants (each with its version's label and
        ``display``, e.g. ``v3 (1.1.0)``), or why it cannot serve; and under ``serving``, per
        model, what this client did: its breaker's state, the answers it gave from a fallback
        and the cache's hit rate (published as metrics too)."""
        health = {}
        for name in model_names():
            endpoint = self.platform.endpoints.describe(self.endpoints[name])
            health[name] = ({"status": "missing", "endpoint": self.endpoints[name]} if endpoint is None
                            else {"status": endpoint.status, "endpoint": endpoint.name,
                                  "variants": versions.labelled_variants(self.platform.registry,
                                                                         endpoint.to_dict()["variants"])})
        health["healthy"] = all(h["status"] == "InService" for h in health.values())
        health["serving"] = self.serving_stats()
        self.publish_metrics()
        return health

    def serving_stats(self) -> dict[str, ModelServingStats]:
        """Per model: requests, cache hits and misses and hit rate, fallbacks, unavailable
        answers and the endpoint's breaker state, since this client started."""
        stats = {}
        for name in model_names():
            counts = {counter: self.counts[(name, counter)] for counter in COUNTERS}
            looked_up = counts["CacheHits"] + counts["CacheMisses"]
            breakers = {key: b.state for key, b in self._breakers.items()
                        if key == self.endpoints[name] or key.startswith(f"{self.endpoints[name]}/")}
            stats[name] = {**{k.lower(): v for k, v in counts.items()},
                           "cache_hit_rate": round(counts["CacheHits"] / looked_up, 4) if looked_up else None,
                           "breakers": breakers}
        return stats

    def publish_metrics(self) -> None:
        """The counters since the last publication, as ``FindDining/Serving`` metrics per model."""
        with self._lock:
            pending, self._unpublished = self._unpublished, Counter()
            self._published_at = self._clock()
        now = datetime.now(UTC)
        data = [MetricDatum(counter, float(value), {"ModelName": model}, now, "Count")
                for (model, counter), value in sorted(pending.items())]
        if data:
            self.platform.metrics.put(SERVING_NAMESPACE, data)

    # -- A/B participation -----------------------------------------------------------
    def running_test(self, model_name: str) -> ABTest | None:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.refresh_s:
                self._tests = {t.model_name: t for t in self.platform.abtests.list_tests(RUNNING)}
                self._loaded_at = time.monotonic()
            return self._tests.get(model_name)

    def invoke(self, model_name: str, user_id: str | None, request: dict, *, inference_id: str | None = None,
               event_time: datetime | None = None) -> Served:
        spec = get_model(model_name)  # an unknown model is named as such
        endpoint_name = self.endpoints[model_name]
        test = self.running_test(model_name) if user_id is not None else None
        arm = lifecycle.assign(test, user_id) if test else None
        target = lifecycle.arm_variant(test, arm) if test else None
        settings = spec.serving
        self._count(model_name, "Requests")
        key = self._cache_key(model_name, endpoint_name, target, request, settings["cache_ttl_s"])
        if key is not None:
            hit = self.cache.get(key)
            self._count(model_name, "CacheHits" if hit is not None else "CacheMisses")
            if hit is not None:
                entry = json.loads(hit)
                return Served(entry["body"], entry["variant"], inference_id or str(uuid.uuid4()), 0.0,
                              test.test_id if test else None, arm, cached=True)
        body = json.dumps(request, ensure_ascii=False).encode()
        breaker = self._breaker(endpoint_name, target)
        inference_id = inference_id or str(uuid.uuid4())  # one id for every attempt of this request

        def attempt() -> Invocation:
            return breaker.call(lambda: self.platform.endpoints.invoke(
                endpoint_name, body, inference_id=inference_id, target_variant=target, event_time=event_time,
                timeout_s=settings["timeout_ms"] / 1000.0))

        try:
            answer = with_retries(attempt, int(settings["retries"]), rng=self._rng)
        except EndpointError as exc:
            if is_caller_error(exc):
                raise
            return self._unavailable(model_name, spec.serving["fallback"], request, inference_id, test, arm, exc)
        try:
            answer_body = json.loads(answer.body)
        except json.JSONDecodeError as exc:
            raise EndpointError(f"{endpoint_name} answered with something other than JSON: {exc}") from exc
        if key is not None:
            self.cache.put(key, json.dumps({"body": answer_body, "variant": answer.variant_name}).encode(),
                           float(settings["cache_ttl_s"]))
        return Served(answer_body, answer.variant_name, answer.inference_id, answer.latency_ms,
                      test.test_id if test else None, arm)

    def _cache_key(self, model_name: str, endpoint_name: str, target: str | None, request: dict,
                   ttl_s: float) -> str | None:
        """The answer's cache key under the endpoint's live configuration; None when not cached."""
        if self.cache is None or ttl_s <= 0:
            return None
        endpoint = self.platform.endpoints.describe(endpoint_name)
        return None if endpoint is None else cache_key(model_name, endpoint, target, request)

    def _unavailable(self, model_name: str, fallback: str, request: dict, inference_id: str, test: ABTest | None,
                     arm: str | None, cause: EndpointError) -> Served:
        """The model's fallback answer, marked and counted; without one, a clear error."""
        if not fallback:
            self._count(model_name, "Unavailable")
            raise ModelUnavailableError(f"ServiceUnavailable: {model_name} cannot answer now and has no fallback "
                                        f"(no answer is made up); try again later. Cause: {cause}") from cause
        self._count(model_name, "Fallbacks")
        return Served(self.fallbacks[fallback].rank(request), f"fallback:{fallback}", inference_id, 0.0,
                      test.test_id if test else None, arm, fallback=True)

    def _breaker(self, endpoint_name: str, target: str | None) -> CircuitBreaker:
        """The endpoint's breaker; an A/B arm's variant has its own, so that a failing arm
        never stops the other arm's users."""
        name = endpoint_name if target is None else f"{endpoint_name}/{target}"
        with self._lock:
            if name not in self._breakers:
                self._breakers[name] = CircuitBreaker(name, clock=self._clock)
            return self._breakers[name]

    def _count(self, model_name: str, counter: str) -> None:
        with self._lock:
            self.counts[(model_name, counter)] += 1
            self._unpublished[(model_name, counter)] += 1
            due = self._clock() - self._published_at >= PUBLISH_EVERY_S
        if due:
            self.publish_metrics()

    def _event(self, test: ABTest | None, user_id: str, model_name: str, metric_name: str, metric_value: float,
               context: dict) -> MetricEvent:
        if test is None:
            raise ABTestError(f"no A/B test is running for {model_name}; nothing to record {metric_name} in")
        metrics = {**test.success_metrics, **test.guardrail_metrics}
        if metric_name not in metrics:
            raise ABTestError(f"A/B test {test.test_id} does not measure {metric_name!r}; it measures "
                                  f"{sorted(metrics)}")
        if isinstance(metric_value, bool) or not isinstance(metric_value, (int, float)) \
                or not math.isfinite(metric_value):
            raise ABTestError(f"{metric_name} of user {user_id} must be a finite number, got {metric_value!r}")
        when = context.get("timestamp") or datetime.now(UTC)
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        key = context.get("event_id") or context.get("inference_id") or when.isoformat()
        return MetricEvent(lifecycle.event_id(test.test_id, user_id, metric_name, str(key)), test.test_id, user_id,
                           lifecycle.assign(test, user_id), metric_name, float(metric_value), when,
                           {k: v for k, v in context.items() if k != "timestamp"})
