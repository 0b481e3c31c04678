"""The canary's traffic steps and what a bake look reads: which ramps a rollout may take, how
a step splits the traffic between champion and challenger, and the readings the verdict
(``deployment.verdict``) judges — the challenger's per-variant metrics through the metrics
port, and its captured predictions against the champion's from the data capture.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from types import ModuleType

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.data import capture
from findining_mlops.deployment.verdict import ERRORS, LATENCY, BakeReadings, ChallengerMetrics, PredictionSamples
from findining_mlops.errors import ConfigurationError, DataValidationError
from findining_mlops.platform.ports import ArtifactStore, Platform

log = logging.getLogger(__name__)
STRATEGIES = ("canary", "all_at_once")
SAGEMAKER_NAMESPACE = "AWS/SageMaker"  # where SageMaker (and the local runtime) record per-variant metrics
CHAMPION_FALLBACK = timedelta(hours=24)
SAME_WINDOW = "the same window"


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


def read_bake(platform: Platform, spec: ModelSpec, endpoint_name: str, champion_variant: str,
              challenger_variant: str, start: datetime, end: datetime, min_prediction_samples: int) -> BakeReadings:
    """What the alarms judge over the bake window [start, end): the challenger's metrics, and
    its captured predictions against the champion's (``min_prediction_samples`` decides when
    the champion's own window is too thin and its recent hours stand in)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise DataValidationError(f"the bake window needs timezone-aware times, got {start!r} .. {end!r}")
    if start >= end:
        raise DataValidationError(f"the bake window is empty: start {start.isoformat()} is not before end "
                                  f"{end.isoformat()}")
    if champion_variant == challenger_variant:
        raise DataValidationError(f"champion and challenger are both variant {champion_variant!r}")
    return BakeReadings(
        _read_metrics(platform, endpoint_name, challenger_variant, start, end),
        _read_predictions(platform, spec, endpoint_name, champion_variant, challenger_variant, start, end,
                          min_prediction_samples))


def _read_metrics(platform: Platform, endpoint_name: str, variant: str, start: datetime,
                  end: datetime) -> ChallengerMetrics:
    dims = {"EndpointName": endpoint_name, "VariantName": variant}

    def values(metric: str) -> list[float]:
        return [d.value for d in platform.metrics.query(SAGEMAKER_NAMESPACE, metric, dims, start, end)]

    latencies_us = values(LATENCY)
    return ChallengerMetrics(variant, f"{variant} of {endpoint_name} in {start.isoformat()} .. {end.isoformat()}",
                             int(sum(values("Invocations"))), sum(values(ERRORS)), sum(latencies_us),
                             len(latencies_us))


def _read_predictions(platform: Platform, spec: ModelSpec, endpoint: str, champion_variant: str,
                      challenger_variant: str, start: datetime, end: datetime, minimum: int) -> PredictionSamples:
    """Challenger vs champion predictions, both from data capture.

    The champion's records of the same window are the fair reference (same users, same time
    of day). When it served fewer than ``minimum`` there (late in the ramp, when the challenger
    takes most of a quiet endpoint's traffic), its records of the 24 h up to ``end`` stand in:
    a wider but still recent picture of what the live model says."""
    module = spec.code.monitoring
    numeric = "prediction" in module.DRIFT_NUMERICAL
    if not numeric and "prediction" not in module.DRIFT_CATEGORICAL:
        raise ConfigurationError(f"{spec.package}.monitoring lists 'prediction' in neither DRIFT_NUMERICAL nor "
                                 "DRIFT_CATEGORICAL, so its prediction shift cannot be judged")
    challenger, records = _captured(platform.store, module, endpoint, challenger_variant, start, end)
    if records < minimum:
        return PredictionSamples(challenger_variant, champion_variant, records, 0, SAME_WINDOW)
    reference_window = SAME_WINDOW
    champion, champion_records = _captured(platform.store, module, endpoint, champion_variant, start, end)
    if champion_records < minimum:
        reference_window = f"the {CHAMPION_FALLBACK.total_seconds() / 3600:g} h up to {end.isoformat()}"
        champion, champion_records = _captured(platform.store, module, endpoint, champion_variant,
                                               end - CHAMPION_FALLBACK, end)
    if champion_records < minimum:
        return PredictionSamples(challenger_variant, champion_variant, records, champion_records, reference_window)
    distance, stattest = _prediction_distance(champion["prediction"], challenger["prediction"], numeric)
    return PredictionSamples(challenger_variant, champion_variant, records, champion_records, reference_window,
                             distance, stattest)


def _prediction_distance(reference: pd.Series, current: pd.Series, numeric: bool) -> tuple[float, str]:
    """An effect size (the verdict compares it with a threshold) and its name."""
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
    read = capture.read_rows(store, capture.window_files(store, endpoint, variant, start, end),
                             module.capture_fields, within=(start, end))
    if read.malformed:
        log.warning("skipped %d malformed capture records of %s/%s", read.malformed, endpoint, variant)
    return (module.capture_features(pd.DataFrame(read.rows)) if read.rows else pd.DataFrame()), read.records
