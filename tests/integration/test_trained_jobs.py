"""The test session's training jobs (``simulation.TrainedJobs``): a model bootstrapped again
on the same data gets a copy of the first job's model instead of a second training run, and
everything after the training job still happens in the test's own platform."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from simulation import SENTIMENT, TrainedJobs, bootstrap

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate

pytestmark = pytest.mark.slow
START = date(2026, 10, 1)
ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"


def test_the_same_model_on_the_same_data_is_trained_once_and_on_other_data_again(platform, home, use_catalog,
                                                                                    tmp_path):
    use_catalog(sentiment={**SENTIMENT, "training_window_days": 6, "holdout_days": 1, "max_regression": 0.05})
    generate(platform.store, START, 7, seed=4, requests_per_day=10, reviews_per_day=150)
    spec, trained = get_model("sentiment"), TrainedJobs(tmp_path / "trained")

    first = bootstrap(platform, spec, START + timedelta(days=5), "job-v1", trained=trained)
    again = bootstrap(platform, spec, START + timedelta(days=5), "job-v2", trained=trained)
    assert sorted(p.name for p in (home / "training-jobs").iterdir()) == ["job-v1"]
    assert platform.store.read_bytes(again.artifact_key) == platform.store.read_bytes(first.artifact_key)
    # the copy went through the gate against the live v1, and its own registration and baseline
    assert (again.version, again.status, again.lineage["champion"]["version"]) == (2, "Approved", 1)
    assert again.metrics == first.metrics
    assert platform.store.exists("baselines/sentiment/2/reference.parquet")
    answer = platform.endpoints.invoke(ENDPOINT, json.dumps({"text": "好好食"}).encode())
    assert json.loads(answer.body)["label"] in ("negative", "neutral", "positive")

    bootstrap(platform, spec, START + timedelta(days=6), "job-v3", trained=trained)  # a window one day later
    assert sorted(p.name for p in (home / "training-jobs").iterdir()) == ["job-v1", "job-v3"]
