"""What monitoring needs to know about the recommendation model: how a captured
inference becomes feature rows, and how ground truth scores it."""

from __future__ import annotations

import math

import pandas as pd

from findining_mlops.data.capture import CapturedInference
from findining_mlops.models.metrics import binary_metrics, ranking_metrics
from findining_mlops.models.recommendation.features import CATEGORICAL, NUMERICAL, candidate_rows, model_features

DRIFT_NUMERICAL = NUMERICAL + ["prediction"]
DRIFT_CATEGORICAL = CATEGORICAL
GROUND_TRUTH_KEYS = ["inference_id", "restaurant_id"]


def capture_fields(record: CapturedInference) -> list[dict]:
    """One dict per candidate: the request's fields as numbers where the model reads numbers, the served score
    and the join keys. Raises ValueError/KeyError/TypeError when the record does not honour the request
    contract, so a malformed record is counted on its own instead of failing the day's frame."""
    rows = candidate_rows(record.request)
    scores = record.response["scores"]
    if len(scores) != len(rows):
        raise ValueError(f"{len(scores)} scores for {len(rows)} candidates")
    for row, score in zip(rows, scores, strict=True):
        row.update(price_level=float(row["price_level"]), rating=float(row["rating"]),
                   distance_km=float(row["distance_km"]), prediction=math.nan if score is None else float(score),
                   inference_id=record.inference_id)
    return rows


def capture_features(rows: pd.DataFrame) -> pd.DataFrame:
    """``capture_fields`` rows as feature rows: model features, the served score, and the join keys."""
    features = model_features(rows)
    for column in ("prediction", "inference_id", "restaurant_id"):
        features[column] = rows[column].to_numpy()
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
