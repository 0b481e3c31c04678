"""What monitoring needs to know about the aspect model: a captured inference becomes text
descriptors plus its top aspect; the day's labelled feedback scores it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from findining_mlops.data.capture import CapturedInference
from findining_mlops.data.feedback import ASPECTS
from findining_mlops.models.aspects.train import aspect_f1, indicator
from findining_mlops.models.text import CATEGORICAL, NUMERICAL, captured_text, labelled, text_capture_features

DRIFT_NUMERICAL = NUMERICAL
DRIFT_CATEGORICAL = CATEGORICAL + ["prediction"]


def capture_fields(record: CapturedInference) -> list[dict]:
    """The feedback text, the served top aspect and all aspects, and the join key; ValueError when the request
    has no text."""
    return [{"text": captured_text(record, "aspect"), "prediction": str(record.response["top"]),
             "predicted_aspects": "|".join(record.response["aspects"]), "inference_id": record.inference_id}]


capture_features = text_capture_features  # ``capture_fields`` rows: descriptors, the served aspects, the join key


def performance(captured: pd.DataFrame, truth: pd.DataFrame) -> dict:
    joined, metrics = labelled(captured, truth, "aspects")
    if not joined.empty:
        labels, predicted = indicator(joined["aspects"]), indicator(joined["predicted_aspects"])
        metrics["macro_f1"] = aspect_f1(labels, predicted)
        metrics["exact_match"] = float(np.mean((labels == predicted).all(axis=1)))
        metrics["aspects"] = len(ASPECTS)
    return metrics
