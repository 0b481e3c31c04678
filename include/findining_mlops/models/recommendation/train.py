"""Training entry point of the recommendation model (SageMaker script mode).

Learns P(engage) per (request, candidate) with gradient-boosted trees, evaluates ranking
quality on the ``test`` channel against a popularity ranking, and writes the model, its
evaluation and the drift reference profile into ``SM_MODEL_DIR``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from findining_mlops.models import contract
from findining_mlops.models.metrics import binary_metrics, ranking_metrics
from findining_mlops.models.recommendation.features import CATEGORICAL, FEATURES, NUMERICAL, model_features

HYPERPARAMETERS = {"max_iter": 150, "learning_rate": 0.1, "max_leaf_nodes": 31, "reference_rows": 20000, "seed": 7}


def fit(train: pd.DataFrame, validation: pd.DataFrame, hps: dict) -> Pipeline:
    encoder = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan), CATEGORICAL)],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    n_cat = len(CATEGORICAL)
    model = Pipeline(
        [
            ("encode", encoder),
            (
                "gbt",
                HistGradientBoostingClassifier(
                    max_iter=int(hps["max_iter"]),
                    learning_rate=float(hps["learning_rate"]),
                    max_leaf_nodes=int(hps["max_leaf_nodes"]),
                    categorical_features=list(range(n_cat)),
                    early_stopping=True,
                    validation_fraction=0.1,
                    random_state=int(hps["seed"]),
                ),
            ),
        ]
    )
    frame = pd.concat([train, validation], ignore_index=True)
    model.fit(model_features(frame)[CATEGORICAL + NUMERICAL], frame["engaged"].astype(int))
    return model


def predict_proba(model: Pipeline, features: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(features[CATEGORICAL + NUMERICAL])[:, 1]


def evaluate(model: Pipeline, frame: pd.DataFrame) -> dict:
    """Ranking and probability quality on logged interactions."""
    scores = predict_proba(model, model_features(frame))
    metrics = ranking_metrics(frame["inference_id"], frame["engaged"].to_numpy(), scores)
    metrics.update(binary_metrics(frame["engaged"].to_numpy(), scores))
    metrics["rows"] = int(len(frame))
    return metrics


def popularity_baseline(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """NDCG of ranking candidates by their engagement rate in the training window."""
    rate = train.groupby("restaurant_id")["engaged"].mean()
    scores = test["restaurant_id"].map(rate).fillna(train["engaged"].mean()).to_numpy()
    baseline = ranking_metrics(test["inference_id"], test["engaged"].to_numpy(), scores)
    return {f"popularity_{k}": v for k, v in baseline.items() if k != "ranked_requests"}


def reference_profile(model: Pipeline, sample: pd.DataFrame) -> pd.DataFrame:
    """Features and predictions of a sample, which later days are compared with for drift."""
    features = model_features(sample).reset_index(drop=True)
    features["prediction"] = predict_proba(model, features)
    return features[FEATURES + ["prediction"]]


def train(hps: dict) -> None:
    contract.run_training(hps, fit=fit, evaluate=evaluate, profile=reference_profile, baselines=popularity_baseline,
                          metadata={"model": "recommendation", "numerical": NUMERICAL, "categorical": CATEGORICAL,
                                    "prediction": "prediction"})


if __name__ == "__main__":
    contract.run_entry_point(train, HYPERPARAMETERS)
