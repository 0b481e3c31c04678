"""Training entry point of the sentiment model (SageMaker script mode).

Character n-grams handle English and Cantonese alike without a word segmenter; a
multinomial logistic regression on top gives calibrated class scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from findining_mlops.models import contract
from findining_mlops.models.metrics import classification_metrics
from findining_mlops.models.text import CATEGORICAL, FEATURES, NUMERICAL, text_features

HYPERPARAMETERS = {"c": 4.0, "max_features": 50000, "reference_rows": 20000, "seed": 7}


def fit(train: pd.DataFrame, validation: pd.DataFrame, hps: dict) -> Pipeline:
    model = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), max_features=int(hps["max_features"]),
                                      sublinear_tf=True)),
            ("clf", LogisticRegression(C=float(hps["c"]), max_iter=2000)),
        ]
    )
    frame = pd.concat([train, validation], ignore_index=True)
    model.fit(frame["text"].astype(str), frame["sentiment"])
    return model


def evaluate(model: Pipeline, frame: pd.DataFrame) -> dict:
    predictions = model.predict(frame["text"].astype(str))
    metrics = classification_metrics(frame["sentiment"], predictions)
    majority = frame["sentiment"].mode().iat[0]
    metrics["majority_class_macro_f1"] = classification_metrics(frame["sentiment"],
                                                                np.full(len(frame), majority))["macro_f1"]
    metrics["rows"] = int(len(frame))
    return metrics


def reference_profile(model: Pipeline, sample: pd.DataFrame) -> pd.DataFrame:
    features = text_features(sample["text"]).reset_index(drop=True)
    features["prediction"] = model.predict(sample["text"].astype(str))
    return features[FEATURES + ["prediction"]]


def train(hps: dict) -> None:
    contract.run_training(hps, fit=fit, evaluate=evaluate, profile=reference_profile,
                          metadata={"model": "sentiment", "numerical": NUMERICAL,
                                    "categorical": CATEGORICAL + ["prediction"], "prediction": "prediction"})


if __name__ == "__main__":
    contract.run_entry_point(train, HYPERPARAMETERS)
