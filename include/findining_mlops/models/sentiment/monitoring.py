"""What monitoring needs to know about the sentiment model: how a captured inference
becomes a feature row, and how ground truth scores it."""

from __future__ import annotations

import pandas as pd

from findining_mlops.data.capture import CapturedInference
from findining_mlops.models.metrics import classification_metrics
from findining_mlops.models.text import CATEGORICAL, NUMERICAL, captured_text, labelled, text_capture_features

DRIFT_NUMERICAL = NUMERICAL
DRIFT_CATEGORICAL = CATEGORICAL + ["prediction"]


def capture_fields(record: CapturedInference) -> list[dict]:
    """The review text, the served label and the join key; ValueError when the request has no text."""
    return [{"text": captured_text(record, "sentiment"), "prediction": str(record.response["label"]),
             "inference_id": record.inference_id}]


capture_features = text_capture_features  # ``capture_fields`` rows: descriptors, the served label, the join key


def performance(captured: pd.DataFrame, truth: pd.DataFrame) -> dict:
    joined, metrics = labelled(captured, truth, "sentiment")
    if not joined.empty:
        metrics.update(classification_metrics(joined["sentiment"], joined["prediction"]))
    return metrics
