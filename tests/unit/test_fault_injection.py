"""Fault injection for rollback drills: a model directory holding fault-injection.json is
served with failing requests, added latency or shifted predictions; without the file the
serving handlers are exactly the model's own."""

from __future__ import annotations

import json
import tarfile
from datetime import date

import pytest
from threadpoolctl import threadpool_limits

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.errors import ConfigurationError, DataValidationError
from findining_mlops.models.requests import frame_requests
from findining_mlops.serving.server.handlers import FAULT_FILE, inject_faults, load_handlers, with_fault_injection

pytestmark = pytest.mark.usefixtures("fault_drill_endpoints")  # the faulty models are drills

DAY = date(2026, 10, 1)
SENTIMENT = "findining_mlops.models.sentiment.inference"
RECOMMENDATION = "findining_mlops.models.recommendation.inference"


@pytest.fixture(scope="module")
def reviews():
    return World(seed=2).reviews(DAY, 200, ScenarioPlan())


@pytest.fixture(scope="module")
def sentiment_model(reviews):
    from findining_mlops.models.sentiment.train import HYPERPARAMETERS, fit

    with threadpool_limits(limits=1):  # a tiny model: thread start-up would cost more than the fit
        return fit(reviews, reviews.iloc[:0], HYPERPARAMETERS)


@pytest.fixture(scope="module")
def interactions():
    return World(seed=2).interactions(DAY, 60, ScenarioPlan())


@pytest.fixture(scope="module")
def recommendation_model(interactions):
    from findining_mlops.models.recommendation.train import HYPERPARAMETERS, fit

    with threadpool_limits(limits=1):
        return fit(interactions, interactions.iloc[:0], {**HYPERPARAMETERS, "max_iter": 20})


def _faulty_handlers(tmp_path, module: str, faults: dict):
    (tmp_path / FAULT_FILE).write_text(json.dumps(faults))
    return with_fault_injection(load_handlers(module), str(tmp_path))


def _sentiment_input(handlers, text: str):
    return handlers.input_fn(json.dumps({"text": text}), "application/json")


def test_without_the_file_the_handlers_are_the_models_own(tmp_path):
    handlers = load_handlers(SENTIMENT)
    assert with_fault_injection(handlers, str(tmp_path)) is handlers


def test_error_rate_fails_that_share_of_requests_and_always_the_same_ones(tmp_path, reviews, sentiment_model):
    """200 distinct reviews at error_rate 0.5: the failing share is 0.5 +- 0.15 (about 4
    binomial standard deviations), and a second pass fails exactly the same reviews."""
    handlers = _faulty_handlers(tmp_path, SENTIMENT, {"error_rate": 0.5})

    def failing() -> list[str]:
        failed = []
        for text in reviews["text"]:
            try:
                handlers.predict_fn(_sentiment_input(handlers, text), sentiment_model)
            except RuntimeError as exc:
                assert "fault injection" in str(exc)
                failed.append(text)
        return failed

    first = failing()
    assert len(first) / len(reviews) == pytest.approx(0.5, abs=0.15)
    assert failing() == first


@pytest.mark.parametrize("rate, fails", [(0.0, False), (1.0, True)])
def test_error_rate_zero_fails_nothing_and_one_fails_everything(tmp_path, reviews, sentiment_model, rate, fails):
    handlers = _faulty_handlers(tmp_path, SENTIMENT, {"error_rate": rate})
    outcomes = set()
    for text in reviews["text"][:50]:
        try:
            handlers.predict_fn(_sentiment_input(handlers, text), sentiment_model)
            outcomes.add(False)
        except RuntimeError:
            outcomes.add(True)
    assert outcomes == {fails}


def test_added_latency_sleeps_that_long_on_every_request(tmp_path, monkeypatch, reviews, sentiment_model):
    slept = []
    monkeypatch.setattr("findining_mlops.serving.server.handlers.time.sleep", slept.append)
    handlers = _faulty_handlers(tmp_path, SENTIMENT, {"added_latency_ms": 6000})
    plain = load_handlers(SENTIMENT)
    for text in reviews["text"][:3]:
        data = _sentiment_input(handlers, text)
        assert handlers.predict_fn(data, sentiment_model) == plain.predict_fn(data, sentiment_model)
    assert slept == [6.0, 6.0, 6.0]


def test_a_constant_shift_makes_every_sentiment_negative(tmp_path, reviews, sentiment_model):
    handlers = _faulty_handlers(tmp_path, SENTIMENT, {"prediction_shift": "constant"})
    plain = load_handlers(SENTIMENT)
    labels = [plain.predict_fn(_sentiment_input(plain, t), sentiment_model)["label"] for t in reviews["text"]]
    assert {"positive", "negative"} <= set(labels)  # the real model says different things
    for text in reviews["text"]:
        shifted = handlers.predict_fn(_sentiment_input(handlers, text), sentiment_model)
        assert shifted["label"] == "negative"
        assert shifted["scores"]["negative"] == 1.0
    batch = handlers.input_fn(json.dumps({"instances": [{"text": t} for t in reviews["text"][:5]]}), "application/json")
    assert [p["label"] for p in handlers.predict_fn(batch, sentiment_model)["predictions"]] == ["negative"] * 5


def test_a_constant_shift_reverses_recommendation_scores_and_ranking(tmp_path, interactions, recommendation_model):
    from findining_mlops.models.recommendation.inference import CandidateScorer

    handlers = _faulty_handlers(tmp_path, RECOMMENDATION, {"prediction_shift": "constant"})
    plain = load_handlers(RECOMMENDATION)
    scorer = CandidateScorer.load(recommendation_model)  # what model_fn serves
    for _, _, request in frame_requests(get_model("recommendation"), interactions)[:5]:
        rows = plain.input_fn(json.dumps(request), "application/json")
        honest = plain.predict_fn(rows, scorer)
        shifted = handlers.predict_fn(rows, scorer)
        assert shifted["scores"] == pytest.approx([1 - s for s in honest["scores"]], abs=1e-6)
        assert shifted["ranking"] == honest["ranking"][::-1]


@pytest.mark.parametrize("content, named", [
    ("{not json", "is not valid JSON"),
    ('{"error_rate": 1.5}', "error_rate 1.5 is outside 0..1"),
    ('{"added_latency_ms": -1}', "added_latency_ms -1"),
    ('{"prediction_shift": "reverse"}', "prediction_shift 'reverse'"),
    ('{"errors": 0.2}', "unknown fault setting(s) ['errors']"),
])
def test_a_malformed_fault_file_is_a_configuration_error_naming_it(tmp_path, content, named):
    (tmp_path / FAULT_FILE).write_text(content)
    with pytest.raises(ConfigurationError, match="fault-injection.json") as error:
        with_fault_injection(load_handlers(SENTIMENT), str(tmp_path))
    assert named in str(error.value)


# -- inject_faults -----------------------------------------------------------------------
def _archive(path, files: dict[str, str]):
    source = path.parent / "src"
    source.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            (source / name).write_text(text)
            tar.add(source / name, arcname=name)
    return path


def _members(archive) -> dict[str, str]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}


def test_inject_faults_copies_the_model_and_adds_the_fault_file(tmp_path):
    original = _archive(tmp_path / "model.tar.gz", {"model.joblib": "weights", "metadata.json": "{}"})
    faulty = tmp_path / "faulty" / "model.tar.gz"
    inject_faults(original, faulty, {"error_rate": 0.2, "prediction_shift": "constant"})
    members = _members(faulty)
    assert {k: v for k, v in members.items() if k != FAULT_FILE} == _members(original)
    assert json.loads(members[FAULT_FILE]) == {"error_rate": 0.2, "prediction_shift": "constant"}


def test_inject_faults_on_a_faulty_archive_replaces_its_faults(tmp_path):
    original = _archive(tmp_path / "model.tar.gz", {"model.joblib": "weights"})
    once, twice = tmp_path / "once.tar.gz", tmp_path / "twice.tar.gz"
    inject_faults(original, once, {"error_rate": 0.2})
    inject_faults(once, twice, {"added_latency_ms": 100})
    with tarfile.open(twice, "r:gz") as tar:
        assert sorted(tar.getnames()) == sorted(["model.joblib", FAULT_FILE])
    assert json.loads(_members(twice)[FAULT_FILE]) == {"added_latency_ms": 100}


def test_inject_faults_refuses_bad_faults_and_unreadable_archives(tmp_path):
    original = _archive(tmp_path / "model.tar.gz", {"model.joblib": "weights"})
    with pytest.raises(DataValidationError, match="error_rate 2 is outside 0..1"):
        inject_faults(original, tmp_path / "out.tar.gz", {"error_rate": 2})
    assert not (tmp_path / "out.tar.gz").exists()
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(DataValidationError, match="broken.tar.gz"):
        inject_faults(tmp_path / "broken.tar.gz", tmp_path / "out.tar.gz", {"error_rate": 0.1})
    assert not (tmp_path / "out.tar.gz").exists()
