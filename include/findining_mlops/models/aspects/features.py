"""What the aspect model's scores mean: the decision threshold, and the top aspect of a text
(monitoring profiles it with the text descriptors of ``findining_mlops.models.text``)."""

from __future__ import annotations

import numpy as np

from findining_mlops.data.feedback import ASPECTS

THRESHOLD = 0.5
NO_ASPECT = "none"


def predicted_labels(probabilities: np.ndarray) -> np.ndarray:
    return (np.asarray(probabilities) >= THRESHOLD).astype(np.int8)


def top_aspect(scores) -> str:
    """The most likely aspect, or ``none`` when no aspect reaches the threshold (praise)."""
    scores = np.asarray(scores)
    return ASPECTS[int(scores.argmax())] if scores.max() >= THRESHOLD else NO_ASPECT
