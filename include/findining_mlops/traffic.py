"""Replays the app's requests of a day against a model's endpoint.

Each logged request is sent with its own inference id (so ground truth joins back to
the captured inference) and, on the local backend, its own timestamp (so capture lands in
that day's partition, as it would have in production).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from findining_mlops.catalog import ModelSpec
from findining_mlops.errors import EndpointError
from findining_mlops.platform.ports import Platform
from findining_mlops.retraining import read_partition

log = logging.getLogger(__name__)


@dataclass
class TrafficReport:
    endpoint: str
    sent: int = 0
    errors: int = 0
    per_variant: dict[str, int] = field(default_factory=dict)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "sent": self.sent,
            "errors": self.errors,
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


def day_requests(platform: Platform, spec: ModelSpec, day: date) -> list[tuple[str, pd.Timestamp, dict]]:
    """``(inference_id, time, request body)`` of every request the app made that day."""
    frame = read_partition(platform, spec.dataset, day)
    if spec.dataset == "interactions":
        from findining_mlops.models.recommendation.features import requests_from_interactions

        times = frame.groupby("inference_id")["request_time"].first()
        return [(iid, times[iid], body) for iid, body in requests_from_interactions(frame)]
    if spec.dataset == "reviews":
        return [(r.inference_id, r.review_time, {"text": r.text}) for r in frame.itertuples()]
    raise EndpointError(f"no request replay is defined for dataset {spec.dataset!r} of model {spec.name}")


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
            report.errors += 1
            log.warning("%s", exc)
            continue
        report.per_variant[answer.variant_name] = report.per_variant.get(answer.variant_name, 0) + 1
        report.latencies_ms.setdefault(answer.variant_name, []).append(answer.latency_ms)
    platform.endpoints.flush()
    log.info("replayed %d requests of %s to %s (%d errors)", report.sent, day, spec.endpoint_name, report.errors)
    return report
