"""What the aspect model's scores mean: the decision threshold, and the per-text summary
that monitoring profiles (the same text descriptors as the sentiment model)."""

from __future__ import annotations

import numpy as np

from findining_mlops.data.feedback import ASPECTS
from findining_mlops.models.sentiment.features import CATEGORICAL, FEATURES, NUMERICAL  # noqa: F401 (re-exported)

THRESHOLD = 0.5
NO_ASPECT = "none"


def predicted_labels(probabilities: np.ndarray) -> np.ndarray:
    return (np.asarray(probabilities) >= THRESHOLD).astype(np.int8)


def top_aspect(scores) -> str:
    """The most likely aspect, or ``none`` when no aspect reaches the threshold (praise)."""
    scores = np.asarray(scores)
    return ASPECTS[int(scores.argmax())] if scores.max() >= THRESHOLD else NO_ASPECT
