"""One trained pair of models (aspects + sentiment) per test session, trained by the
retraining pipeline on small synthetic data; each test gets its own copy of that home."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from feedback_support import DATA_DAYS, DATA_START, TRAINED_UNTIL, WORLD_SEED
from simulation import bootstrap

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.platform.local import local_platform


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("feedback-models")
    platform = local_platform(home, seed=5)
    generate(platform.store, DATA_START, DATA_DAYS, seed=WORLD_SEED, requests_per_day=20, reviews_per_day=150,
             feedback_per_day=100)
    for name in ("sentiment", "aspects"):
        spec = replace(get_model(name), training_window_days=8, holdout_days=2, validation_days=1)
        version = bootstrap(platform, spec, TRAINED_UNTIL, f"findining-{name}-feedback-tests")
        assert version.status == "Approved", version
    return home


@pytest.fixture
def feedback_home(trained_home, tmp_path, monkeypatch):
    """A home of this test's own with the trained models and the data."""
    home = tmp_path / "findining"
    shutil.copytree(trained_home, home)
    monkeypatch.setenv("FINDINING_HOME", str(home))
    monkeypatch.setenv("FINDINING_BACKEND", "local")
    monkeypatch.delenv("FINDINING_MODELS_CONFIG", raising=False)
    return home


@pytest.fixture
def feedback_platform(feedback_home):
    return local_platform(feedback_home, seed=5)


@pytest.fixture(scope="session")
def local_analyzer(trained_home):
    from findining_mlops.feedback.local import LocalAnalyzer

    return LocalAnalyzer.from_platform(local_platform(trained_home, seed=5))
