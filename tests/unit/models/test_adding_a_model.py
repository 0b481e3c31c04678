"""Adding a model touches only its own package and models.toml.

``findining_test_models.review_length`` (tests/integration/fixtures) is a model that
exists nowhere but in its package; a catalog naming it is all the pipeline gets. It is
trained as SageMaker trains it, checked and registered, deployed, sent the app's
requests, monitored and scored as an A/B arm, with no change to any other code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from simulation import bootstrap, write_catalog  # tests/integration, on the pytest pythonpath

from devtools.traffic import replay_day
from findining_mlops.config.catalog import all_models, get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.errors import ConfigurationError
from findining_mlops.models.contract import (
    InferenceModule,
    ModelPackage,
    MonitoringModule,
    OutcomesModule,
    RequestsModule,
    TrainingModule,
)
from findining_mlops.models.requests import day_requests, synthetic_requests
from findining_mlops.monitoring.analysis import analyze_day
from findining_mlops.store.partitions import read_partition

START = date(2026, 10, 1)
FIXTURES = Path(__file__).resolve().parents[2] / "integration" / "fixtures"
REVIEW_LENGTH = {
    "description": "a review's sentiment from its length, script and punctuation",
    "package": "findining_test_models.review_length", "dataset": "reviews", "primary_metric": "macro_f1",
    "min_primary_metric": 0.0, "max_regression": 0.01, "training_window_days": 6, "holdout_days": 2,
    "validation_days": 1, "ab_metrics": {"sentiment_accuracy": {"kind": "binary"}},
    "monitoring": {"html_sample_size": 0},  # no drift page for people: the figures are what is checked
}
PARTS = {"train": TrainingModule, "inference": InferenceModule, "monitoring": MonitoringModule,
         "requests": RequestsModule}


@pytest.fixture
def review_length(tmp_path, monkeypatch):
    """The catalog a newcomer writes: one section naming the new package."""
    monkeypatch.setenv("FINDINING_MODELS_CONFIG", str(write_catalog(tmp_path / "models.toml",
                                                                     {"review_length": REVIEW_LENGTH})))
    # the package's modules, for the training and check processes and for this one
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(FIXTURES), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(FIXTURES))
    return get_model("review_length")


@pytest.fixture
def reviews(platform):
    """Ten days of a few reviews: enough to train, judge and monitor the model in seconds."""
    generate(platform.store, START, 10, seed=3, requests_per_day=5, reviews_per_day=60, feedback_per_day=0)
    return platform


@pytest.mark.parametrize("model", sorted(all_models()))
def test_every_shipped_model_package_provides_what_the_contract_names(model):
    code = get_model(model).code
    for part, protocol in PARTS.items():
        assert isinstance(getattr(code, part), protocol), f"{model}.{part}"
    if get_model(model).ab_metrics:
        assert isinstance(code.outcomes, OutcomesModule)


def test_a_package_without_a_module_the_pipeline_calls_is_named_in_the_error():
    with pytest.raises(ConfigurationError, match=r"findining_mlops.models.aspects has no outcomes module"):
        _ = ModelPackage("findining_mlops.models.aspects").outcomes
    with pytest.raises(ConfigurationError, match=r"model package findining_no_such_models.x has no train module"):
        _ = ModelPackage("findining_no_such_models.x").train


def test_reading_the_catalog_imports_no_model_code():
    """DAG files read the catalog when they are parsed: that stays cheap."""
    probe = ("import sys; from findining_mlops.config.catalog import all_models; "
             "[spec.code for spec in all_models().values()]; "
             "print(sorted(m for m in ('pandas', 'sklearn', 'joblib') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_a_model_added_by_its_package_and_a_catalog_section_runs_its_whole_lifecycle(review_length, reviews):
    platform, spec = reviews, review_length
    assert all(isinstance(getattr(spec.code, part), protocol) for part, protocol in PARTS.items())

    # trained (a SageMaker-contract job), checked in the sandbox, gated, registered, baselined, deployed
    version = bootstrap(platform, spec, START + timedelta(days=7), "review-length-bootstrap")
    assert version.status == "Approved" and 0.0 < version.metrics["macro_f1"] <= 1.0

    # the app's requests, from the day's rows and from the synthetic world; the answers pass its smoke check
    day = START + timedelta(days=8)
    requests = day_requests(platform, spec, day)
    assert len(requests) == len(read_partition(platform, "reviews", day)) > 0
    _, _, body = synthetic_requests(spec, seed=0, day=day, count=1)[0]
    answer = json.loads(platform.endpoints.invoke(spec.endpoint_name, json.dumps(body).encode()).body)
    assert spec.code.requests.check_response(body, answer) is None

    # served with data capture, then monitored: drift against its reference, performance against the truth
    assert replay_day(platform, spec, day).sent == len(requests)
    summary = analyze_day(platform, spec, day)
    assert summary["live_version"] == version.version and summary["records"] == len(requests)
    assert summary["primary_metric"] == "macro_f1" and 0.0 < summary["performance"] <= 1.0

    # an A/B arm's outcome: whether the served label matched the review's
    truth = read_partition(platform, "reviews", day).head(1)
    assert spec.code.outcomes.outcomes(truth, {"label": truth["sentiment"].iloc[0]}) == {"sentiment_accuracy": 1.0}
