"""What monitoring needs to know about the recommendation model: how a captured
inference becomes feature rows, and how ground truth scores it."""

from __future__ import annotations

import pandas as pd

from findining_mlops.capture import CapturedInference
from findining_mlops.metrics import binary_metrics, ranking_metrics
from findining_mlops.models.recommendation.features import CATEGORICAL, NUMERICAL, model_features, request_rows

DRIFT_NUMERICAL = NUMERICAL + ["prediction"]
DRIFT_CATEGORICAL = CATEGORICAL
GROUND_TRUTH_KEYS = ["inference_id", "restaurant_id"]


def captured_rows(record: CapturedInference) -> pd.DataFrame:
    """One row per candidate: model features, the served score, and the join keys.
    Raises ValueError/KeyError when the record does not honour the request contract."""
    rows = request_rows(record.request)
    scores = record.response["scores"]
    if len(scores) != len(rows):
        raise ValueError(f"{len(scores)} scores for {len(rows)} candidates")
    features = model_features(rows)
    features["prediction"] = pd.to_numeric(pd.Series(scores, dtype=float)).to_numpy()
    features["inference_id"] = record.inference_id
    features["restaurant_id"] = rows["restaurant_id"].to_numpy()
    return features


def performance(captured: pd.DataFrame, truth: pd.DataFrame) -> dict:
    joined = captured.merge(truth[GROUND_TRUTH_KEYS + ["engaged"]], on=GROUND_TRUTH_KEYS, how="inner")
    metrics = {"labelled_rows": int(len(joined)),
               "ground_truth_coverage": float(joined["inference_id"].nunique()
                                              / max(captured["inference_id"].nunique(), 1))}
    if joined.empty:
        return metrics
    metrics.update(ranking_metrics(joined["inference_id"], joined["engaged"].to_numpy(),
                                   joined["prediction"].to_numpy()))
    metrics.update(binary_metrics(joined["engaged"].to_numpy(), joined["prediction"].to_numpy()))
    return metrics
