"""The canary rollout policy: which traffic steps a rollout may take, and the guardrail
alarms that decide after each bake window whether the challenger may take the next step.

The alarms are the ones a SageMaker blue/green canary deployment with auto-rollback would
watch on the challenger variant (ModelLatency and Invocation5XXErrors in ``AWS/SageMaker``),
plus one CloudWatch cannot compute: how far the challenger's predictions move away from the
champion's on the same window's traffic. A model that answers fast and without errors but
says something else entirely is the failure a retrained model is most likely to have.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.data import capture
from findining_mlops.errors import ConfigurationError, DataValidationError
from findining_mlops.platform.ports import ArtifactStore, Platform

log = logging.getLogger(__name__)
STRATEGIES = ("canary", "all_at_once")
SAGEMAKER_NAMESPACE = "AWS/SageMaker"  # where SageMaker (and the local runtime) record per-variant metrics
LATENCY, ERRORS, PREDICTION_SHIFT = "ModelLatency", "Invocation5XXErrors", "PredictionShift"
CHAMPION_FALLBACK = timedelta(hours=24)


@dataclass(frozen=True)
class CanaryThresholds:
    """The seed's guardrails on the challenger variant during a bake window."""

    max_model_latency_ms: float = 5000.0  # average ModelLatency (recorded in microseconds)
    max_error_rate: float = 0.05  # sum Invocation5XXErrors / sum Invocations
    # distance of the challenger's predictions from the champion's: a broken model (constant or
    # inverted answers) lands far above 0.2, a model retrained on drifted data may fairly move ~0.1
    max_prediction_shift: float = 0.2
    min_requests: int = 20  # fewer challenger requests in the window and the alarms cannot judge yet
    # a distribution needs more: at 100 predictions the distance's own noise is ~0.05
    min_prediction_samples: int = 100


@dataclass(frozen=True)
class Alarm:
    name: str  # LATENCY | ERRORS | PREDICTION_SHIFT
    variant: str
    value: float | None
    threshold: float
    firing: bool
    detail: str
    insufficient_data: bool = False  # too little traffic to judge: never firing

    @property
    def state(self) -> str:
        """CloudWatch's three alarm states, in lower case."""
        return "insufficient_data" if self.insufficient_data else "firing" if self.firing else "ok"

    def to_dict(self) -> dict:
        return {**asdict(self), "state": self.state}


def validate_rollout(strategy: str, canary_percent: int, ramp: list[int]) -> None:
    """Raises DataValidationError naming the first bad setting. The ramp is checked for
    ``all_at_once`` too, so switching a rollout to ``canary`` never starts from bad steps."""
    if strategy not in STRATEGIES:
        raise DataValidationError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if not _is_int(canary_percent) or not 1 <= canary_percent <= 50:
        raise DataValidationError(f"canary_percent {canary_percent!r} is outside 1..50")
    if not ramp:
        raise DataValidationError(f"ramp is empty; it must step from canary_percent {canary_percent} up to 100")
    for step in ramp:
        if not _is_int(step) or not 1 <= step <= 100:
            raise DataValidationError(f"ramp step {step!r} is outside 1..100")
    for before, after in zip(ramp, ramp[1:], strict=False):
        if after <= before:
            raise DataValidationError(f"ramp {ramp} is not strictly increasing: {after} follows {before}")
    if ramp[0] != canary_percent:
        raise DataValidationError(f"ramp {ramp} starts at {ramp[0]}; it must start at canary_percent {canary_percent}")
    if ramp[-1] != 100:
        raise DataValidationError(f"ramp {ramp} ends at {ramp[-1]}; it must end at 100 (all traffic on the challenger)")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def split_weights(champion_variant: str, challenger_variant: str, percent: int) -> dict[str, float]:
    """Variant weights that send ``percent`` of the traffic to the challenger."""
    if champion_variant == challenger_variant:
        raise DataValidationError(f"champion and challenger are both variant {champion_variant!r}")
    if not 0 <= percent <= 100:
        raise DataValidationError(f"challenger traffic {percent} % is outside 0..100")
    return {challenger_variant: float(percent), champion_variant: float(100 - percent)}


def evaluate_alarms(platform: Platform, spec: ModelSpec, endpoint_name: str, champion_variant: str,
                    challenger_variant: str, start: datetime, end: datetime,
                    thresholds: CanaryThresholds = CanaryThresholds()) -> list[Alarm]:
    """The challenger's latency, error-rate and prediction-shift alarms over [start, end)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise DataValidationError(f"the bake window needs timezone-aware times, got {start!r} .. {end!r}")
    if start >= end:
        raise DataValidationError(f"the bake window is empty: start {start.isoformat()} is not before end "
                                  f"{end.isoformat()}")
    if champion_variant == challenger_variant:
        raise DataValidationError(f"champion and challenger are both variant {champion_variant!r}")
    dims = {"EndpointName": endpoint_name, "VariantName": challenger_variant}

    def values(metric: str) -> list[float]:
        return [d.value for d in platform.metrics.query(SAGEMAKER_NAMESPACE, metric, dims, start, end)]

    requests = int(sum(values("Invocations")))
    window = f"{challenger_variant} of {endpoint_name} in {start.isoformat()} .. {end.isoformat()}"
    return [
        _latency_alarm(values(LATENCY), requests, challenger_variant, window, thresholds),
        _error_alarm(sum(values(ERRORS)), requests, challenger_variant, window, thresholds),
        _prediction_shift_alarm(platform, spec, endpoint_name, champion_variant, challenger_variant, start, end,
                                thresholds),
    ]


def _too_few(name: str, variant: str, threshold: float, requests: int, window: str, minimum: int) -> Alarm | None:
    if requests >= minimum:
        return None
    return Alarm(name, variant, None, threshold, False,
                 f"only {requests} requests to {window} (< min_requests {minimum}): cannot judge yet", True)


def _latency_alarm(latencies_us: list[float], requests: int, variant: str, window: str,
                   thresholds: CanaryThresholds) -> Alarm:
    threshold = thresholds.max_model_latency_ms
    too_few = _too_few(LATENCY, variant, threshold, requests, window, thresholds.min_requests)
    if too_few:
        return too_few
    if not latencies_us:  # ModelLatency is recorded for successful requests only
        return Alarm(LATENCY, variant, None, threshold, False,
                     f"none of the {requests} requests to {window} succeeded: no latency to judge", True)
    average_ms = sum(latencies_us) / len(latencies_us) / 1000.0
    return Alarm(LATENCY, variant, average_ms, threshold, average_ms > threshold,
                 f"average ModelLatency {average_ms:.1f} ms over {len(latencies_us)} successful requests to {window} "
                 f"(threshold {threshold:g} ms)")


def _error_alarm(errors: float, requests: int, variant: str, window: str, thresholds: CanaryThresholds) -> Alarm:
    threshold = thresholds.max_error_rate
    too_few = _too_few(ERRORS, variant, threshold, requests, window, thresholds.min_requests)
    if too_few:
        return too_few
    rate = errors / requests
    return Alarm(ERRORS, variant, rate, threshold, rate > threshold,
                 f"{errors:g} of {requests} requests to {window} failed ({rate:.1%}; threshold {threshold:.1%})")


def _prediction_shift_alarm(platform: Platform, spec: ModelSpec, endpoint: str, champion_variant: str,
                            challenger_variant: str, start: datetime, end: datetime,
                            thresholds: CanaryThresholds) -> Alarm:
    """Challenger vs champion predictions, both from data capture.

    The champion's records of the same window are the fair reference (same users, same time
    of day). When it served fewer than ``min_prediction_samples`` there (late in the ramp, when the
    challenger takes most of a quiet endpoint's traffic), its records of the 24 h up to ``end`` stand in: a wider but
    still recent picture of what the live model says. Fewer than that is insufficient data."""
    module = importlib.import_module(spec.monitoring_module)
    numerical = ["prediction"] if "prediction" in module.DRIFT_NUMERICAL else []
    categorical = ["prediction"] if "prediction" in module.DRIFT_CATEGORICAL else []
    if not numerical and not categorical:
        raise ConfigurationError(f"{spec.monitoring_module} lists 'prediction' in neither DRIFT_NUMERICAL nor "
                                 "DRIFT_CATEGORICAL, so its prediction shift cannot be judged")
    minimum, threshold = thresholds.min_prediction_samples, thresholds.max_prediction_shift
    challenger, records = _captured(platform.store, module, endpoint, challenger_variant, start, end)
    if records < minimum:
        return Alarm(PREDICTION_SHIFT, challenger_variant, None, threshold, False,
                     f"only {records} captured requests of {challenger_variant} in the window "
                     "(< min_prediction_samples "
                     f"{minimum}): cannot judge yet", True)
    reference_window = "the same window"
    champion, champion_records = _captured(platform.store, module, endpoint, champion_variant, start, end)
    if champion_records < minimum:
        reference_window = f"the {CHAMPION_FALLBACK.total_seconds() / 3600:g} h up to {end.isoformat()}"
        champion, champion_records = _captured(platform.store, module, endpoint, champion_variant,
                                               end - CHAMPION_FALLBACK, end)
    if champion_records < minimum:
        return Alarm(PREDICTION_SHIFT, challenger_variant, None, threshold, False,
                     f"only {champion_records} captured requests of the champion {champion_variant} in "
                     f"{reference_window} (< min_prediction_samples {minimum}): nothing to compare with", True)
    score, stattest = _prediction_distance(champion["prediction"], challenger["prediction"], bool(numerical))
    return Alarm(PREDICTION_SHIFT, challenger_variant, score, threshold, score > threshold,
                 f"{stattest} distance {score:.4g} (threshold {threshold:g}) between the predictions of "
                 f"{challenger_variant} ({records} requests) and of the champion {champion_variant} "
                 f"({champion_records} requests in {reference_window})")


def _prediction_distance(reference: pd.Series, current: pd.Series, numeric: bool) -> tuple[float, str]:
    """An effect size, never a p-value: the bake looks again at every poke, and a test at
    5 % asked twenty times would roll back a perfectly healthy challenger."""
    if numeric:
        spread = float(np.std(reference.to_numpy(float))) or 1.0
        return float(wasserstein_distance(reference.to_numpy(float), current.to_numpy(float)) / spread), "wasserstein"
    labels = sorted(set(reference.astype(str)) | set(current.astype(str)))
    ref = reference.astype(str).value_counts(normalize=True).reindex(labels, fill_value=0.0).to_numpy()
    cur = current.astype(str).value_counts(normalize=True).reindex(labels, fill_value=0.0).to_numpy()
    return float(jensenshannon(ref, cur)), "jensenshannon"


def _captured(store: ArtifactStore, module: ModuleType, endpoint: str, variant: str, start: datetime,
              end: datetime) -> tuple[pd.DataFrame, int]:
    """Feature rows (with "prediction") of the variant's captured requests in [start, end),
    and how many requests they are; malformed records are skipped and logged."""
    fields, records, malformed = [], 0, 0
    for key in _capture_keys(store, endpoint, variant, start, end):
        for line in store.read_bytes(key).decode("utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                record = capture.parse_record(line)
                if start <= record.inference_time < end:
                    fields += module.capture_fields(record)
                    records += 1
            except (ValueError, KeyError, TypeError):
                malformed += 1
    if malformed:
        log.warning("skipped %d malformed capture records of %s/%s", malformed, endpoint, variant)
    return (module.capture_features(pd.DataFrame(fields)) if fields else pd.DataFrame()), records


def _capture_keys(store: ArtifactStore, endpoint: str, variant: str, start: datetime, end: datetime) -> list[str]:
    """Capture files in the hour folders that overlap [start, end)."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    keys = []
    while hour < end:
        keys += [k for k in store.list_keys(f"{capture.day_prefix(endpoint, variant, hour)}{hour:%H}/")
                 if k.endswith(".jsonl")]
        hour += timedelta(hours=1)
    return keys
