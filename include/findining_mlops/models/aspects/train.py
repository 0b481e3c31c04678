"""Training entry point of the aspect model (SageMaker script mode).

Multi-label: one logistic regression per aspect over character n-grams, which read
English and Cantonese alike without a word segmenter. Praise carries no aspect, so the
model also learns when a text complains about nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from findining_mlops.data.feedback import ASPECTS
from findining_mlops.models import contract
from findining_mlops.models.aspects.features import predicted_labels, top_aspect
from findining_mlops.models.text import CATEGORICAL, FEATURES, NUMERICAL, text_features

HYPERPARAMETERS = {"c": 8.0, "max_features": 30000, "reference_rows": 20000, "seed": 7}


def indicator(aspects: pd.Series) -> np.ndarray:
    """The ``"|"``-separated aspect labels as a (rows × ASPECTS) 0/1 matrix."""
    sets = [set(filter(None, str(value).split("|"))) for value in aspects]
    return np.array([[int(a in labels) for a in ASPECTS] for labels in sets], dtype=np.int8)


def fit(train: pd.DataFrame, validation: pd.DataFrame, hps: dict) -> Pipeline:
    model = Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), max_features=int(hps["max_features"]),
                                  sublinear_tf=True)),
        ("clf", OneVsRestClassifier(LogisticRegression(C=float(hps["c"]), class_weight="balanced", max_iter=2000))),
    ])
    frame = pd.concat([train, validation], ignore_index=True)
    model.fit(frame["text"].astype(str), indicator(frame["aspects"]))
    return model


def aspect_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-F1 over the aspects present in ``truth`` (an aspect nobody mentioned has no F1)."""
    present = truth.sum(axis=0) > 0
    return float(f1_score(truth[:, present], predicted[:, present], average="macro", zero_division=0))


def evaluate(model: Pipeline, frame: pd.DataFrame) -> dict:
    truth = indicator(frame["aspects"])
    predicted = predicted_labels(model.predict_proba(frame["text"].astype(str)))
    metrics = {"macro_f1": aspect_f1(truth, predicted), "rows": int(len(frame)),
               "exact_match": float((truth == predicted).all(axis=1).mean())}
    for language in ("en", "yue"):
        rows = (frame["language"] == language).to_numpy()
        if rows.any():
            metrics[f"macro_f1_{language}"] = aspect_f1(truth[rows], predicted[rows])
    for j, aspect in enumerate(ASPECTS):
        if truth[:, j].any():
            metrics[f"f1_{aspect}"] = float(f1_score(truth[:, j], predicted[:, j], zero_division=0))
    # the baseline every model must beat: always the most frequent aspect
    majority = np.zeros_like(truth)
    majority[:, truth.sum(axis=0).argmax()] = 1
    metrics["majority_aspect_macro_f1"] = aspect_f1(truth, majority)
    return metrics


def reference_profile(model: Pipeline, sample: pd.DataFrame) -> pd.DataFrame:
    features = text_features(sample["text"]).reset_index(drop=True)
    features["prediction"] = [top_aspect(p) for p in model.predict_proba(sample["text"].astype(str))]
    return features[FEATURES + ["prediction"]]


def train(hps: dict) -> None:
    contract.run_training(hps, fit=fit, evaluate=evaluate, profile=reference_profile,
                          metadata={"model": "aspects", "aspects": list(ASPECTS), "numerical": NUMERICAL,
                                    "categorical": CATEGORICAL + ["prediction"], "prediction": "prediction"})


if __name__ == "__main__":
    contract.run_entry_point(train, HYPERPARAMETERS)
