"""How well an analyzer finds the aspects of labelled feedback: precision, recall and F1
per aspect and macro-F1, overall and per language — how a person compares a new Bedrock
model or prompt with the local model before switching."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support

from findining_mlops.data.feedback import ASPECTS
from findining_mlops.feedback.results import ANALYZED, FeedbackResult
from findining_mlops.models.aspects.train import aspect_f1, indicator


def evaluate(frame: pd.DataFrame, analyze: Callable[[str, str], FeedbackResult]) -> dict:
    """``frame`` has ``text``, ``aspects`` ("|"-separated) and optionally ``language``."""
    results = [analyze(text, str(i)) for i, text in enumerate(frame["text"])]
    predicted = indicator(pd.Series(["|".join(a["aspect"] for a in r.analysis["aspects"]) if r.status == ANALYZED
                                     else "" for r in results]))
    truth = indicator(frame["aspects"].fillna(""))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, zero_division=0)
    report = {"rows": len(frame), "failed": sum(r.status != ANALYZED for r in results),
              "macro_f1": aspect_f1(truth, predicted),
              "per_aspect": {a: {"precision": float(precision[j]), "recall": float(recall[j]), "f1": float(f1[j]),
                                 "support": int(support[j])} for j, a in enumerate(ASPECTS)}}
    if "language" in frame:
        for language in sorted(frame["language"].unique()):
            rows = (frame["language"] == language).to_numpy()
            report[f"macro_f1_{language}"] = aspect_f1(truth[rows], predicted[rows])
    report["exact_match"] = float(np.mean((truth == predicted).all(axis=1)))
    return report
