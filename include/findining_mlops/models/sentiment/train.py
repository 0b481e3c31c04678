"""Training entry point of the sentiment model (SageMaker script mode).

Character n-grams handle English and Cantonese alike without a word segmenter; a
multinomial logistic regression on top gives calibrated class scores.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from findining_mlops.models import contract
from findining_mlops.models.metrics import classification_metrics
from findining_mlops.models.sentiment.features import CATEGORICAL, FEATURES, NUMERICAL, text_features

HYPERPARAMETERS = {"c": 4.0, "max_features": 50000, "reference_rows": 20000, "seed": 7}
log = logging.getLogger("findining.training")


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


def reference_profile(model: Pipeline, frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    sample = frame.sample(n=min(rows, len(frame)), random_state=seed) if len(frame) > rows else frame
    features = text_features(sample["text"]).reset_index(drop=True)
    features["prediction"] = model.predict(sample["text"].astype(str))
    return features[FEATURES + ["prediction"]]


def train(hps: dict) -> None:
    train_df, validation_df, test_df = (contract.read_channel(c) for c in ("train", "validation", "test"))
    log.info("training on %d reviews, validating on %d, testing on %d", len(train_df), len(validation_df), len(test_df))
    model = fit(train_df, validation_df, hps)
    evaluation = evaluate(model, test_df)
    log.info("evaluation: %s", evaluation)
    contract.write_model(
        model,
        evaluation,
        reference_profile(model, train_df, int(hps["reference_rows"]), int(hps["seed"])),
        {"model": "sentiment", "numerical": NUMERICAL, "categorical": CATEGORICAL + ["prediction"],
         "prediction": "prediction", "hyperparameters": hps},
    )


if __name__ == "__main__":
    contract.run_entry_point(train, HYPERPARAMETERS)
