"""``make loadtest``: simulated app users against the local backend's model servers.

N users (threads) play the app for a fixed time through ``MLService``, as the traffic
generator's users do: recommendations for their requests (sometimes the same request again,
as an app screen is reloaded), reviews scored for sentiment inside a running A/B test, and
their A/B outcomes recorded. Each user pauses between requests as a person reading a screen
does (130 ms on average, which brings 32 users to about 230 requests per second); with
``--think-ms 0`` they send as fast as the servers answer, to find the saturation point.
Meanwhile a canary of a second recommendation version ramps 10 → 50 → 100 % and, halfway,
the canary variant's model server is killed with SIGKILL.

Two runs: the cache off (the model servers' own figures), then on with the same users.
Printed: throughput, p50/p95/p99 per model and variant, failed user requests, fallbacks,
cache hit rate, data capture records against requests the endpoints served. Written:
``bench/results/loadtest.json`` and ``loadtest.html`` (latency over time).
Not a test: the figures depend on the machine (and whoever else shares it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DAY = date(2026, 10, 1)
DATA_DAYS = 5
TRAIN_TIMEOUT_S = 900


def _train(platform, model: str, job: str, hyperparameters: dict):
    from findining_mlops.config.catalog import get_model
    from findining_mlops.training.job import training_spec
    from findining_mlops.training.snapshot import snapshot_training_data

    spec = dataclasses.replace(get_model(model), training_window_days=DATA_DAYS - 1, holdout_days=1,
                               validation_days=1)
    snapshot = snapshot_training_data(platform, spec, job, DAY + timedelta(days=DATA_DAYS - 1))
    return platform.training.start(training_spec(spec, snapshot, hyperparameters))


def prepare(home: Path):
    """Data, two trained versions of each model (real training jobs), the sentiment A/B
    test (v1 control, v2 treatment) and the recommendation endpoint at v1."""
    from findining_mlops.config.catalog import get_model
    from findining_mlops.data.synthetic import generate
    from findining_mlops.platform.local import local_platform
    from findining_mlops.platform.ports import APPROVED, COMPLETED, IN_PROGRESS, ABTest, ProductionVariant

    platform = local_platform(home, seed=5)
    generate(platform.store, DAY, DATA_DAYS, seed=3, requests_per_day=300, reviews_per_day=300)
    jobs = {("recommendation", 1): _train(platform, "recommendation", "load-rec-1", {"max_iter": 40}),
            ("recommendation", 2): _train(platform, "recommendation", "load-rec-2", {"max_iter": 80}),
            ("sentiment", 1): _train(platform, "sentiment", "load-sent-1", {"c": 4.0}),
            ("sentiment", 2): _train(platform, "sentiment", "load-sent-2", {"c": 1.0})}
    versions = {}
    for (model, number), job in jobs.items():
        deadline = time.monotonic() + TRAIN_TIMEOUT_S
        while (done := platform.training.describe(job.name)).status == IN_PROGRESS and time.monotonic() < deadline:
            time.sleep(0.5)
        if done.status != COMPLETED:
            sys.exit(f"training job {job.name} ended {done.status}:\n{platform.training.logs(job.name)}")
        versions[(model, number)] = platform.registry.register(
            model, done.model_artifact_key, status=APPROVED, metrics=done.metrics, lineage={"training_job": job.name},
            reason="load test", idempotency_key=job.name)
    variant = lambda name, model, n, w: ProductionVariant(name, model, versions[(model, n)].version,  # noqa: E731
                                                          versions[(model, n)].artifact_uri, w)
    rec, sent = get_model("recommendation").endpoint_name, get_model("sentiment").endpoint_name
    platform.endpoints.deploy(rec, [variant("champion", "recommendation", 1, 1.0)])
    platform.endpoints.deploy(sent, [variant("control", "sentiment", 1, 0.5),
                                     variant("treatment", "sentiment", 2, 0.5)])
    platform.abtests.create(ABTest(
        "load-ab", "load test", "sentiment", sent, versions[("sentiment", 1)].version,
        versions[("sentiment", 2)].version, "control", "treatment", 50, 7,
        {"sentiment_accuracy": {"kind": "binary"}}, {}, 0.05, DAY.isoformat()))
    return platform, variant


@dataclasses.dataclass
class Sample:
    t: float
    model: str
    variant: str
    latency_ms: float
    answered_by: str  # "model", "cached", "fallback" or "failed"


@dataclasses.dataclass
class AppUsers:
    """The simulated users: each one's requests, what answered them and the A/B results they produced."""

    service: object
    recommendation_requests: list[dict]
    reviews: object  # the day's reviews (a DataFrame)
    repeat: float
    think_ms: float
    seed: int
    samples: list[Sample] = dataclasses.field(default_factory=list)
    ab_results: list[tuple] = dataclasses.field(default_factory=list)
    failures: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def warm_up(self) -> None:
        """Every server up before the clock starts."""
        for body in self.recommendation_requests[:3]:
            self.service.invoke("recommendation", body["user_id"], body)
        for user in ("warm-a", "warm-b", "warm-c", "warm-d"):
            self.service.analyze_review("warm up", user_id=user)

    def loop(self, index: int) -> None:
        """One user until ``stop``: 70 % recommendations (some repeated), 30 % reviews, with pauses."""
        rng = random.Random(self.seed * 1000 + index)
        last: dict | None = None
        while not self.stop.is_set():
            started = time.perf_counter()
            model = "recommendation" if rng.random() < 0.7 else "sentiment"
            try:
                if model == "recommendation":
                    last = self._request(rng, last)  # the user's last request, whatever its answer
                    served = self.service.invoke("recommendation", last["user_id"], last)
                else:
                    served = self._review(rng)
                answered_by = "cached" if served.cached else "fallback" if served.fallback else "model"
                variant_name = served.variant
            except Exception as exc:  # a failed user request: counted, the user goes on
                answered_by, variant_name = "failed", "-"
                with self.lock:
                    self.failures[f"{type(exc).__name__}: {str(exc)[:160]}"] += 1
            elapsed = (time.perf_counter() - started) * 1000
            with self.lock:
                self.samples.append(Sample(time.monotonic(), model, variant_name, elapsed, answered_by))
            if self.think_ms:
                time.sleep(rng.uniform(0, 2 * self.think_ms) / 1000)

    def _request(self, rng: random.Random, last: dict | None) -> dict:
        """The user's last request again (a reloaded screen), or another one."""
        if last is not None and rng.random() < self.repeat:
            return last
        return rng.choice(self.recommendation_requests)

    def _review(self, rng: random.Random):
        review = self.reviews.iloc[rng.randrange(len(self.reviews))]
        user = f"reviewer-{rng.randrange(5000)}"
        served = self.service.analyze_review(str(review.text), user_id=user)
        if served.arm is not None:
            correct = float(served.body.get("label") == review.sentiment)
            with self.lock:
                self.ab_results.append((user, "sentiment", "sentiment_accuracy", correct,
                                        {"inference_id": served.inference_id}))
        return served


def run(platform, variant, users: int, duration_s: float, repeat: float, use_cache: bool, seed: int,
        think_ms: float) -> dict:
    """One run: the users, the canary ramp and the SIGKILL; the figures."""
    from findining_mlops.config.catalog import get_model
    from findining_mlops.data.synthetic import ScenarioPlan, World
    from findining_mlops.models.requests import frame_requests
    from findining_mlops.serving.client.service import MLService

    rec = get_model("recommendation").endpoint_name
    platform.endpoints.deploy(rec, [variant("champion", "recommendation", 1, 1.0)])
    service = MLService(platform, use_cache=use_cache, seed=seed)
    world = World(seed)
    app = AppUsers(service, [b for _, _, b in frame_requests(get_model("recommendation"),
                                                             world.interactions(DAY, 600, ScenarioPlan()))],
                   world.reviews(DAY, 600, ScenarioPlan()), repeat, think_ms, seed)
    app.warm_up()
    capture_before = _capture_records(platform)
    started = time.monotonic()
    threads = [threading.Thread(target=app.loop, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    events = _ramp_canary(platform, variant, rec, started, duration_s)
    time.sleep(max(0.0, started + duration_s - time.monotonic()))
    app.stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    platform.endpoints.flush()
    recorded = service.record_ab_test_results(app.ab_results) if app.ab_results else 0
    return {
        "cache": use_cache, "users": users, "duration_s": round(elapsed, 1), "repeat_rate": repeat,
        **_figures(platform, app, elapsed, capture_before, recorded), "events": events,
        "timeline": _timeline(app.samples, started),
    }


def _ramp_canary(platform, variant, endpoint: str, started: float, duration_s: float) -> list[dict]:
    """A second recommendation version ramps 10 → 50 → 100 %; halfway its model server is killed."""
    def weights(champion: float, challenger: float) -> None:
        platform.endpoints.update_weights(endpoint, {"champion": champion, "challenger": challenger})

    schedule = [(0.15, "canary 10 %", lambda: platform.endpoints.deploy(
                    endpoint, [variant("champion", "recommendation", 1, 0.9),
                               variant("challenger", "recommendation", 2, 0.1)])),
                (0.4, "canary 50 %", lambda: weights(0.5, 0.5)),
                (0.5, "SIGKILL challenger's server", lambda: _kill(platform, endpoint, "challenger")),
                (0.7, "canary 100 %", lambda: weights(0.0, 1.0))]
    events = []
    for share, label, action in schedule:
        time.sleep(max(0.0, started + share * duration_s - time.monotonic()))
        detail = action()
        events.append({"t": round(time.monotonic() - started, 2), "event": label,
                       **({"killed_pids": detail} if isinstance(detail, list) else {})})
        print(f"  t={events[-1]['t']:5.1f}s  {label}", flush=True)
    return events


def _figures(platform, app: AppUsers, elapsed: float, capture_before: int, recorded: int) -> dict:
    """Throughput, failures, what answered the requests, capture records, restarts and latencies."""
    from findining_mlops.config.catalog import get_model

    samples = app.samples
    status = {name: platform.endpoints.server_status(name)
              for name in (get_model("recommendation").endpoint_name, get_model("sentiment").endpoint_name)}
    return {
        "requests": len(samples), "throughput_rps": round(len(samples) / elapsed, 1),
        "failed": sum(app.failures.values()), "failures": dict(app.failures),
        "fallbacks": sum(1 for s in samples if s.answered_by == "fallback"),
        "cache_hits": sum(1 for s in samples if s.answered_by == "cached"),
        "cache_hit_rate": app.service.serving_stats(),
        "served_by_endpoints": sum(1 for s in samples if s.answered_by == "model"),
        "capture_records": _capture_records(platform) - capture_before,
        "ab_outcomes_recorded": recorded,
        "server_restarts": sum(v["restarts"] for s in status.values() for v in s.values()),
        "latency_ms": _latencies(samples),
    }


def _kill(platform, endpoint: str, variant_name: str) -> list[int]:
    """SIGKILLs the variant's server workers (once its server has started: servers start on
    the first request routed to them)."""
    deadline = time.monotonic() + 60
    while variant_name not in (status := platform.endpoints.server_status(endpoint)) and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = status[variant_name]["pids"]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def _capture_records(platform) -> int:
    root = platform.store.path("datacapture")
    return sum(sum(1 for _ in path.open()) for path in root.rglob("*.jsonl")) if root.exists() else 0


def _quantiles(values: list[float]) -> dict:
    import numpy as np

    if not values:
        return {}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"requests": len(values), "p50": round(float(p50), 2), "p95": round(float(p95), 2),
            "p99": round(float(p99), 2)}


def _latencies(samples: list[Sample]) -> dict:
    groups: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        if s.answered_by == "failed":
            continue
        groups[f"{s.model} (all)"].append(s.latency_ms)
        groups[f"{s.model} / {s.variant if s.answered_by == 'model' else s.answered_by}"].append(s.latency_ms)
    return {name: _quantiles(values) for name, values in sorted(groups.items())}


def _timeline(samples: list[Sample], started: float) -> dict:
    """Per model and second: requests and p95 latency."""
    per: dict[tuple[str, int], list[float]] = defaultdict(list)
    for s in samples:
        per[(s.model, int(s.t - started))].append(s.latency_ms)
    out: dict[str, list] = defaultdict(list)
    for (model, second), values in sorted(per.items()):
        out[model].append({"second": second, "requests": len(values), **_quantiles(values)})
    return dict(out)


def write_html(results: list[dict], path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=len(results), cols=1, shared_xaxes=False,
                           subplot_titles=[f"cache {'on' if r['cache'] else 'off'}: {r['throughput_rps']} req/s, "
                                           f"{r['failed']} failed, {r['fallbacks']} fallbacks" for r in results])
    for row, result in enumerate(results, start=1):
        for model, points in result["timeline"].items():
            figure.add_trace(go.Scatter(x=[p["second"] for p in points], y=[p["p95"] for p in points],
                                        name=f"{model} p95 (cache {'on' if result['cache'] else 'off'})",
                                        mode="lines"), row=row, col=1)
            figure.add_trace(go.Scatter(x=[p["second"] for p in points], y=[p["p50"] for p in points],
                                        name=f"{model} p50 (cache {'on' if result['cache'] else 'off'})",
                                        mode="lines", line={"dash": "dot"}), row=row, col=1)
        for event in result["events"]:
            figure.add_vline(x=event["t"], line_dash="dash", line_color="grey", row=row, col=1)
            figure.add_annotation(x=event["t"], y=1, yref=f"y{'' if row == 1 else row} domain", text=event["event"],
                                  showarrow=False, textangle=-90, xanchor="left", row=row, col=1)
        figure.update_yaxes(title_text="latency ms", row=row, col=1)
        figure.update_xaxes(title_text="seconds into the run", row=row, col=1)
    figure.update_layout(title="Find Dining load test: latency over time", height=420 * len(results))
    path.write_text(figure.to_html(include_plotlyjs="cdn"), encoding="utf-8")


def _print(result: dict) -> None:
    print(f"\ncache {'on' if result['cache'] else 'off'} — {result['users']} users, {result['duration_s']} s, "
          f"repeat rate {result['repeat_rate']}")
    print(f"  throughput {result['throughput_rps']} req/s ({result['requests']} requests), failed "
          f"{result['failed']}, fallbacks {result['fallbacks']}, cache hits {result['cache_hits']}")
    print(f"  served by the endpoints {result['served_by_endpoints']}, data capture records "
          f"{result['capture_records']}, model server restarts {result['server_restarts']}, "
          f"A/B outcomes recorded {result['ab_outcomes_recorded']}")
    for name, q in result["latency_ms"].items():
        print(f"  {name:38s} n={q['requests']:6d}  p50 {q['p50']:7.2f}  p95 {q['p95']:7.2f}  p99 {q['p99']:7.2f} ms")
    for failure, count in result["failures"].items():
        print(f"  FAILED x{count}: {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--repeat", type=float, default=0.3, help="share of a user's requests that repeat their last")
    parser.add_argument("--think-ms", type=float, default=130.0,
                        help="mean pause between a user's requests (uniform in 0..2x); 0 finds the saturation point")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="findining-loadtest-") as home:
        os.environ["FINDINING_HOME"] = home
        print("preparing: data, 4 training jobs, endpoints, the sentiment A/B test ...", flush=True)
        platform, variant = prepare(Path(home))
        results = []
        for use_cache in (False, True):
            print(f"\nrun with the cache {'on' if use_cache else 'off'}: {args.users} users for {args.duration:g} s",
                  flush=True)
            results.append(run(platform, variant, args.users, args.duration, args.repeat, use_cache, args.seed,
                               args.think_ms))
            _print(results[-1])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "loadtest.json").write_text(json.dumps(
        {"machine_cpus": os.cpu_count(), "load_average_at_end": os.getloadavg(),
         "runs": [{k: v for k, v in r.items() if k != "timeline"} for r in results]}, indent=2), encoding="utf-8")
    write_html(results, RESULTS / "loadtest.html")
    print(f"\nwrote {RESULTS / 'loadtest.json'} and {RESULTS / 'loadtest.html'}")
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
