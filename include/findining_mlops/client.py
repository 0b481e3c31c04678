"""The app's view of the models: the seed's ``mlService`` for Python callers.

``MLService`` calls the models' endpoints and takes part in A/B tests: while a test runs on
a model's endpoint, each user is sent to their own arm's variant (``TargetVariant``) on
every request, and ``record_ab_test_result`` files the user's outcomes under that arm.

As in the guide, a service configures it from its environment (``MLService.from_env``):
``<MODEL>_ENDPOINT_NAME`` (``RECOMMENDATION_ENDPOINT_NAME``, ``SENTIMENT_ENDPOINT_NAME``)
names the endpoint it calls, by default the one the pipeline deploys, and ``AWS_REGION``
the region when ``FINDINING_AWS_REGION`` is not set (``settings``).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, UTC
from collections.abc import Mapping

from findining_mlops import versions
from findining_mlops.abtest import lifecycle
from findining_mlops.catalog import get_model, model_names
from findining_mlops.errors import EndpointError, ABTestError
from findining_mlops.platform.ports import RUNNING, ABTest, Invocation, MetricEvent, Platform

TEST_REFRESH_S = 30.0  # how stale the client's view of running tests may be


@dataclass(frozen=True)
class Served:
    """A model's answer and where it came from."""

    body: dict
    variant: str
    inference_id: str
    latency_ms: float
    test_id: str | None = None
    arm: str | None = None


def endpoint_names(env: Mapping[str, str]) -> dict[str, str]:
    """Each model's endpoint: ``<MODEL>_ENDPOINT_NAME`` when set, else the pipeline's."""
    return {name: env.get(f"{name.upper()}_ENDPOINT_NAME", "").strip() or get_model(name).endpoint_name
            for name in model_names()}


class MLService:
    def __init__(self, platform: Platform, refresh_s: float = TEST_REFRESH_S,
                 endpoints: Mapping[str, str] | None = None):
        self.platform = platform
        self.refresh_s = refresh_s
        self.endpoints = dict(endpoints) if endpoints else endpoint_names({})
        self._tests: dict[str, ABTest] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()
        self.feedback_analyzer = None  # a feedback.results.Analyzer; built on first use

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MLService:
        """The client as the guide's microservices configure it: the backend's settings and
        the endpoint names from the environment."""
        from findining_mlops.platform import get_platform
        from findining_mlops.settings import Settings

        env = os.environ if env is None else env
        return cls(get_platform(Settings.from_env(env)), endpoints=endpoint_names(env))

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
        ``display``, e.g. ``v3 (1.1.0)``), or why it cannot serve."""
        health = {}
        for name in model_names():
            endpoint = self.platform.endpoints.describe(self.endpoints[name])
            health[name] = ({"status": "missing", "endpoint": self.endpoints[name]} if endpoint is None
                            else {"status": endpoint.status, "endpoint": endpoint.name,
                                  "variants": versions.labelled_variants(self.platform.registry,
                                                                         endpoint.to_dict()["variants"])})
        health["healthy"] = all(h["status"] == "InService" for h in health.values())
        return health

    # -- A/B participation -----------------------------------------------------------
    def running_test(self, model_name: str) -> ABTest | None:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.refresh_s:
                self._tests = {t.model_name: t for t in self.platform.abtests.list_tests(RUNNING)}
                self._loaded_at = time.monotonic()
            return self._tests.get(model_name)

    def invoke(self, model_name: str, user_id: str | None, request: dict, *, inference_id: str | None = None,
               event_time: datetime | None = None) -> Served:
        get_model(model_name)  # an unknown model is named as such
        endpoint_name = self.endpoints[model_name]
        test = self.running_test(model_name) if user_id is not None else None
        arm = lifecycle.assign(test, user_id) if test else None
        answer: Invocation = self.platform.endpoints.invoke(
            endpoint_name, json.dumps(request, ensure_ascii=False).encode(), inference_id=inference_id,
            target_variant=lifecycle.arm_variant(test, arm) if test else None, event_time=event_time)
        try:
            body = json.loads(answer.body)
        except json.JSONDecodeError as exc:
            raise EndpointError(f"{endpoint_name} answered with something other than JSON: {exc}") from exc
        return Served(body, answer.variant_name, answer.inference_id, answer.latency_ms,
                      test.test_id if test else None, arm)

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
