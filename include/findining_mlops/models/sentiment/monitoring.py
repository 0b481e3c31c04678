"""What monitoring needs to know about the sentiment model: how a captured inference
becomes a feature row, and how ground truth scores it."""

from __future__ import annotations

import pandas as pd

from findining_mlops.capture import CapturedInference
from findining_mlops.metrics import classification_metrics
from findining_mlops.models.sentiment.features import CATEGORICAL, NUMERICAL, text_features

DRIFT_NUMERICAL = NUMERICAL
DRIFT_CATEGORICAL = CATEGORICAL + ["prediction"]


def capture_fields(record: CapturedInference) -> list[dict]:
    """The review text, the served label and the join key; ValueError when the request has no text."""
    text = record.request["text"]
    if not isinstance(text, str):
        raise ValueError("captured sentiment request has no text")
    return [{"text": text, "prediction": str(record.response["label"]), "inference_id": record.inference_id}]


def capture_features(rows: pd.DataFrame) -> pd.DataFrame:
    """``capture_fields`` rows as feature rows: the text's descriptors, the served label and the join key."""
    features = text_features(rows["text"])
    for column in ("prediction", "inference_id"):
        features[column] = rows[column].to_numpy()
    return features


def performance(captured: pd.DataFrame, truth: pd.DataFrame) -> dict:
    joined = captured.merge(truth[["inference_id", "sentiment"]], on="inference_id", how="inner")
    metrics = {"labelled_rows": int(len(joined)),
               "ground_truth_coverage": float(len(joined) / max(len(captured), 1))}
    if not joined.empty:
        metrics.update(classification_metrics(joined["sentiment"], joined["prediction"]))
    return metrics
