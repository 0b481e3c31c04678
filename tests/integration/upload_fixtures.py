"""Sentiment model tarballs built in-process (no training job): a good one, a worse one, and
ones whose pickled code misbehaves when loaded — what people might upload."""

from __future__ import annotations

import io
import json
from datetime import date

import joblib
from simulation import tarball
from sklearn.dummy import DummyClassifier
from threadpoolctl import threadpool_limits

from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.models import contract


def joblib_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def sentiment_files(model=None, rows: int = 600, seed: int = 2) -> dict[str, bytes]:
    """What the training contract packs: ``model`` (default: a sentiment model fitted on
    ``rows`` synthetic reviews), its self-reported evaluation, metadata and reference profile."""
    from findining_mlops.models.sentiment.train import HYPERPARAMETERS, fit, reference_profile

    reviews = World(seed=seed).reviews(date(2026, 10, 1), rows, ScenarioPlan())
    with threadpool_limits(limits=1):
        fitted = fit(reviews, reviews.iloc[:0], HYPERPARAMETERS)
        reference = io.BytesIO()
        reference_profile(fitted, contract.reference_sample(reviews, 100, 7)).to_parquet(reference, index=False)
    return {
        contract.MODEL_FILE: joblib_bytes(fitted if model is None else model),
        # what the uploader claims; the gate judges the holdout evaluation instead
        contract.EVALUATION_FILE: json.dumps({"macro_f1": 0.99}).encode(),
        contract.METADATA_FILE: b"{}",
        contract.REFERENCE_FILE: reference.getvalue(),
    }


def majority_class_model(rows: int = 100, seed: int = 2) -> DummyClassifier:
    """Answers every review with the most frequent label: loads and serves, but is worse."""
    reviews = World(seed=seed).reviews(date(2026, 10, 1), rows, ScenarioPlan())
    return DummyClassifier(strategy="most_frequent").fit(reviews[["text"]], reviews["sentiment"])


class RunsOnLoad:
    """Unpickling it calls ``function(*args)``: the pickled code a tarball can carry."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def model_running_on_load(function, *args) -> bytes:
    """A model.tar.gz whose model runs ``function(*args)`` when loaded."""
    return tarball({contract.MODEL_FILE: joblib_bytes(RunsOnLoad(function, *args))})
