"""Traffic against a model's endpoint: the app's logged requests of a day, or live
synthetic load at a steady rate (``python -m devtools.traffic --endpoint E --rps R --duration S``).

A replayed request is sent with its own inference id (so ground truth joins back to the
captured inference) and, on the local backend, its own timestamp (so capture lands in that
day's partition, as it would have in production). Synthetic load is stamped with the
current time, so a canary's bake window sees it in its metrics and capture.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.errors import DataValidationError, EndpointError
from findining_mlops.models.requests import day_requests, frame_requests, synthetic_requests
from findining_mlops.platform.ports import Invocation, Platform
from findining_mlops.store.partitions import read_partition

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 32  # concurrent requests, so a slow variant does not hold back the schedule
FLUSH_EVERY_S = 5.0  # so a bake window's metric queries see fresh data
PROGRESS_EVERY_S = 10.0
REQUEST_POOL = 500  # distinct synthetic requests; a longer run cycles through them


@dataclass
class TrafficReport:
    endpoint: str
    sent: int = 0
    errors: int = 0
    per_variant: dict[str, int] = field(default_factory=dict)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    error_messages: dict[str, int] = field(default_factory=dict)  # distinct error -> how many requests met it

    @property
    def served(self) -> int:
        return sum(self.per_variant.values())

    @property
    def lost(self) -> int:
        """Requests sent that ended neither as a response nor as an error: always 0."""
        return self.sent - self.served - self.errors

    def record(self, inference_id: str, answer: Invocation | EndpointError) -> None:
        """Counts how a request ended: served by a variant, or an error."""
        if isinstance(answer, EndpointError):
            self.errors += 1
            # without its inference id, one cause reads as one line however many requests it hit
            cause = str(answer).replace(inference_id, "<inference id>")
            self.error_messages[cause] = self.error_messages.get(cause, 0) + 1
            return
        self.per_variant[answer.variant_name] = self.per_variant.get(answer.variant_name, 0) + 1
        self.latencies_ms.setdefault(answer.variant_name, []).append(answer.latency_ms)

    def summary(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "sent": self.sent, "served": self.served, "errors": self.errors, "lost": self.lost,
            "error_messages": dict(sorted(self.error_messages.items())),
            "per_variant": {
                variant: {
                    "requests": count,
                    "p50_latency_ms": _quantile(self.latencies_ms.get(variant, []), 0.5),
                    "p95_latency_ms": _quantile(self.latencies_ms.get(variant, []), 0.95),
                }
                for variant, count in sorted(self.per_variant.items())
            },
        }


def _quantile(values: list[float], q: float) -> float | None:
    return round(float(pd.Series(values).quantile(q)), 3) if values else None


def replay_day(platform: Platform, spec: ModelSpec, day: date, limit: int | None = None) -> TrafficReport:
    requests = day_requests(platform, spec, day)[:limit]
    report = TrafficReport(spec.endpoint_name)
    for inference_id, when, body in requests:
        report.sent += 1
        try:
            answer = platform.endpoints.invoke(
                spec.endpoint_name, json.dumps(body, ensure_ascii=False).encode(), inference_id=inference_id,
                event_time=when.to_pydatetime(),
            )
        except EndpointError as exc:
            report.record(inference_id, exc)
            log.warning("%s", exc)
            continue
        report.record(inference_id, answer)
    platform.endpoints.flush()
    log.info("replayed %d requests of %s to %s (%d errors)", report.sent, day, spec.endpoint_name, report.errors)
    return report


def generate_traffic(platform: Platform, spec: ModelSpec, rps: float, duration_s: float, seed: int = 0,
                     day: date | None = None, stop: threading.Event | None = None) -> TrafficReport:
    """Sends ``rps`` synthetic requests a second for ``duration_s`` seconds, e.g. through a
    canary's bake window, and waits for every one to end as a response or an error.

    The requests are the synthetic world's (``World(seed)``) of ``day`` (default: today),
    cycled after ``REQUEST_POOL``; each has its own inference id. Request i is due at
    start + i / rps on the monotonic clock, so the rate does not drift and a slow response
    delays no later request (up to ``MAX_IN_FLIGHT`` at once). Setting ``stop`` ends the run
    early; requests already sent still finish and count."""
    if rps <= 0 or duration_s <= 0:
        raise DataValidationError(f"traffic needs rps > 0 and duration_s > 0, "
                                  f"got rps {rps} and duration_s {duration_s}")
    total = max(1, round(rps * duration_s))
    day = day or datetime.now(UTC).date()
    bodies = [json.dumps(body, ensure_ascii=False).encode()
              for _, _, body in synthetic_requests(spec, seed, day, min(total, REQUEST_POOL))]
    run_id = uuid.uuid4().hex[:8]
    stop = stop or threading.Event()
    report = TrafficReport(spec.endpoint_name)
    started = time.monotonic()
    next_flush, next_log = started + FLUSH_EVERY_S, started + PROGRESS_EVERY_S
    log.info("sending %d requests to %s at %g/s for %g s", total, spec.endpoint_name, rps, duration_s)
    try:
        with ThreadPoolExecutor(MAX_IN_FLIGHT, thread_name_prefix="traffic") as pool:
            in_flight: dict[Future, str] = {}
            for i in range(total):
                if stop.wait(max(0.0, started + i / rps - time.monotonic())):
                    log.info("traffic to %s stopped after %d of %d requests", spec.endpoint_name, i, total)
                    break
                inference_id = f"traffic-{run_id}-{i:07d}"
                body = bodies[i % len(bodies)]
                in_flight[pool.submit(_send, platform, spec.endpoint_name, body, inference_id)] = inference_id
                report.sent += 1
                _collect(report, in_flight, [f for f in in_flight if f.done()])
                now = time.monotonic()
                if now >= next_flush:
                    platform.endpoints.flush()
                    next_flush += FLUSH_EVERY_S
                if now >= next_log:
                    log.info("%s: %d sent, %d served, %d errors after %.0f s", spec.endpoint_name, report.sent,
                             report.served, report.errors, now - started)
                    next_log += PROGRESS_EVERY_S
            _collect(report, in_flight, wait(in_flight).done)
    finally:
        platform.endpoints.flush()
    log.info("%s: %d sent, %d served, %d errors in %.1f s", spec.endpoint_name, report.sent, report.served,
             report.errors, time.monotonic() - started)
    return report


def _send(platform: Platform, endpoint: str, body: bytes, inference_id: str) -> Invocation | EndpointError:
    try:
        return platform.endpoints.invoke(endpoint, body, inference_id=inference_id)
    except EndpointError as exc:
        return exc


def _collect(report: TrafficReport, in_flight: dict[Future, str], done) -> None:
    """Moves finished requests into the report; any error but EndpointError is a bug and is raised."""
    for future in done:
        report.record(in_flight.pop(future), future.result())


@dataclass
class ABTestDay:
    """One simulated day of app users in a model's A/B test."""

    day: str
    requests: int = 0
    errors: int = 0
    events_new: int = 0
    per_arm: dict[str, int] = field(default_factory=dict)


def abtest_day(service, spec: ModelSpec, day: date, limit: int | None = None) -> ABTestDay:
    """Replays the day's requests through the app client (each user in their own arm) and
    records each user's outcomes and the latency they waited as A/B events.

    The outcomes come from the day's ground truth (``<model>.outcomes``), so the arm whose
    model serves users better earns better figures. Each event is keyed on its request, so
    replaying the same day again adds nothing."""
    outcomes = spec.code.outcomes.outcomes
    frame = read_partition(service.platform, spec.dataset, day)
    truth = {iid: rows for iid, rows in frame.groupby("inference_id", sort=False)}
    summary = ABTestDay(day.isoformat())
    test = service.running_test(spec.name)
    measured = {**test.success_metrics, **test.guardrail_metrics} if test else {}
    results = []
    for inference_id, when, body in frame_requests(spec, frame)[:limit]:
        summary.requests += 1
        user = body.get("user_id") or str(truth[inference_id]["user_id"].iloc[0])
        try:
            served = service.invoke(spec.name, user, body, inference_id=inference_id, event_time=when.to_pydatetime())
        except EndpointError as exc:
            summary.errors += 1
            log.warning("%s", exc)
            continue
        if served.arm is None or served.fallback:
            continue  # no test is running, or no arm's model answered: nothing to record
        summary.per_arm[served.arm] = summary.per_arm.get(served.arm, 0) + 1
        context = {"inference_id": inference_id, "timestamp": when.to_pydatetime(), "variant": served.variant}
        values = {**outcomes(truth[inference_id], served.body), "model_latency_ms": served.latency_ms}
        results += [(user, spec.name, metric, value, context) for metric, value in values.items() if metric in measured]
    service.platform.endpoints.flush()
    if results:
        summary.events_new = service.record_ab_test_results(results)
    log.info("%s %s: %d requests (%s), %d new A/B events", spec.name, day, summary.requests, summary.per_arm,
             summary.events_new)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Synthetic load against one endpoint at a steady rate; prints the summary (``--json``: as JSON)."""
    import argparse
    import sys

    from findining_mlops.cli.arguments import positive_number, whole_number
    from findining_mlops.errors import FindiningError

    parser = argparse.ArgumentParser(prog="python -m devtools.traffic",
                                     description="send synthetic requests to an endpoint at a steady rate")
    parser.add_argument("--home", help="local backend root (default: $FINDINING_HOME or .findining)")
    parser.add_argument("--endpoint", required=True, help="endpoint name; its model is looked up in the catalog")
    parser.add_argument("--rps", type=positive_number, required=True, help="requests per second")
    parser.add_argument("--duration", type=positive_number, required=True, help="seconds")
    parser.add_argument("--seed", type=whole_number(0), default=0, help="synthetic world the requests come from")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        summary = _endpoint_traffic(args).summary()
    except (FindiningError, ValueError, OSError) as exc:
        print(f"traffic: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2, ensure_ascii=False) if args.json else _summary_text(summary))
    return 0


def _endpoint_traffic(args) -> TrafficReport:
    from findining_mlops.cli.arguments import platform_at
    from findining_mlops.config.catalog import all_models
    from findining_mlops.errors import FindiningError

    specs = {spec.endpoint_name: spec for spec in all_models().values()}
    if args.endpoint not in specs:
        raise FindiningError(f"no model in the catalog is served by endpoint {args.endpoint}; "
                             f"known endpoints: {', '.join(sorted(specs))}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress on stderr
    return generate_traffic(platform_at(args.home), specs[args.endpoint], args.rps, args.duration, seed=args.seed)


def _summary_text(summary: dict) -> str:
    lines = [f"{summary['endpoint']}: {summary['sent']} sent, {summary['served']} served, "
             f"{summary['errors']} errors, {summary['lost']} lost"]
    lines += [f"  {variant:<24} {served['requests']:>7} requests  p50 {served['p50_latency_ms']} ms  "
              f"p95 {served['p95_latency_ms']} ms" for variant, served in summary["per_variant"].items()]
    lines += [f"  {count:>7} x {message}" for message, count in summary["error_messages"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
