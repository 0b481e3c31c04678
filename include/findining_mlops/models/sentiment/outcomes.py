"""A/B outcomes of a sentiment prediction: whether it matched the label the review was given."""

from __future__ import annotations

import pandas as pd


def outcomes(truth: pd.DataFrame, response: dict) -> dict[str, float]:
    return {"sentiment_accuracy": 1.0 if response["label"] == truth["sentiment"].iloc[0] else 0.0}
