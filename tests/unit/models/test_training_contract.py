"""The SageMaker training contract, run as SageMaker runs it: each model's ``train``
module in its own process with ``SM_*`` channels and ``--name value`` hyperparameters,
leaving model, evaluation, reference profile and metadata in ``SM_MODEL_DIR``; the
result then answers requests through the model's serving handlers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.models import contract
from findining_mlops.models.recommendation import inference as recommendation_inference
from findining_mlops.models.recommendation.features import requests_from_interactions
from findining_mlops.models.sentiment import inference as sentiment_inference
from findining_mlops.platform.local.training_runner import hyperparameter_args

START = date(2026, 10, 1)
TRAIN_DAYS = 5
CHANNEL_TIMEOUT_S = 300


def _write_channels(root: Path, make_day) -> dict[str, Path]:
    """Oldest days train, then one validation day and one held-out test day."""
    split = {
        "train": range(TRAIN_DAYS),
        "validation": [TRAIN_DAYS],
        "test": [TRAIN_DAYS + 1],
    }
    channels = {}
    for channel, offsets in split.items():
        folder = root / channel
        folder.mkdir(parents=True)
        for offset in offsets:
            day = START + timedelta(days=offset)
            make_day(day).to_parquet(folder / f"dt={day}.parquet", index=False)
        channels[channel] = folder
    return channels


class Job:
    """One entry-point process with SageMaker's folders and environment."""

    def __init__(self, root: Path, model: str, channels: dict[str, Path], args: list[str], hps: dict):
        root.mkdir(parents=True)
        self.model_dir = root / "model"
        self.output_data_dir = root / "output" / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
        env.update(
            SM_MODEL_DIR=str(self.model_dir),
            SM_OUTPUT_DATA_DIR=str(self.output_data_dir),
            SM_HPS=json.dumps(hps),
            # one OpenMP thread per job: the jobs of this module train side by side
            OMP_NUM_THREADS="1",
        )
        env.update({f"SM_CHANNEL_{name.upper()}": str(path) for name, path in channels.items()})
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"findining_mlops.models.{model}.train", *args],
            env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.returncode: int | None = None
        self.stdout = self.stderr = ""

    def wait(self) -> Job:
        if self.returncode is None:
            self.stdout, self.stderr = self.process.communicate(timeout=CHANNEL_TIMEOUT_S)
            self.returncode = self.process.returncode
        return self

    def read_json(self, name: str) -> dict:
        return json.loads((self.model_dir / name).read_text())


@pytest.fixture(scope="module")
def world():
    return World(seed=21)


@pytest.fixture(scope="module")
def review_channels(tmp_path_factory, world):
    return _write_channels(tmp_path_factory.mktemp("reviews"), lambda day: world.reviews(day, 120, ScenarioPlan()))


@pytest.fixture(scope="module")
def interaction_channels(tmp_path_factory, world):
    # 400 requests x 20 candidates a day: enough for a stable gap over the popularity ranking
    return _write_channels(tmp_path_factory.mktemp("interactions"),
                           lambda day: world.interactions(day, 400, ScenarioPlan()))


@pytest.fixture(scope="module")
def jobs(tmp_path_factory, review_channels, interaction_channels):
    """The module's training jobs, started together and each awaited when first used."""
    root = tmp_path_factory.mktemp("jobs")
    without_test = {k: v for k, v in review_channels.items() if k != "test"}
    started = {
        "sentiment": Job(root / "sentiment", "sentiment", review_channels, ["--c", "2.0"], {"c": 2.0}),
        "recommendation": Job(root / "recommendation", "recommendation", interaction_channels,
                              ["--max_iter", "40"], {"max_iter": 40}),
        "sentiment-without-test": Job(root / "no-test", "sentiment", without_test, [], {}),
    }
    yield started
    for job in started.values():
        if job.process.poll() is None:
            job.process.kill()
        job.wait()


@pytest.fixture(scope="module")
def sentiment_job(jobs):
    job = jobs["sentiment"].wait()
    assert job.returncode == 0, job.stdout + job.stderr
    return job


@pytest.fixture(scope="module")
def recommendation_job(jobs):
    job = jobs["recommendation"].wait()
    assert job.returncode == 0, job.stdout + job.stderr
    return job


# -- sentiment ---------------------------------------------------------------------------
def test_sentiment_entry_point_leaves_the_model_contract_in_the_model_dir(sentiment_job):
    files = {p.name for p in sentiment_job.model_dir.iterdir()}
    assert {contract.MODEL_FILE, contract.EVALUATION_FILE, contract.REFERENCE_FILE, contract.METADATA_FILE} <= files
    evaluation = sentiment_job.read_json(contract.EVALUATION_FILE)
    assert 0.6 <= evaluation["macro_f1"] <= 1.0
    assert 0.6 <= evaluation["accuracy"] <= 1.0
    assert evaluation["macro_f1"] > evaluation["majority_class_macro_f1"]
    assert evaluation["rows"] == 120
    reference = pd.read_parquet(sentiment_job.model_dir / contract.REFERENCE_FILE)
    assert "prediction" in reference.columns
    assert set(reference["prediction"]) <= {"negative", "neutral", "positive"}
    assert len(reference) == 120 * TRAIN_DAYS


def test_sentiment_metadata_records_the_hyperparameters_from_argv(sentiment_job):
    metadata = sentiment_job.read_json(contract.METADATA_FILE)
    assert metadata["model"] == "sentiment"
    assert metadata["hyperparameters"]["c"] == 2.0  # the default is 4.0
    assert metadata["hyperparameters"]["max_features"] == 50000
    assert '"c": 2.0' in sentiment_job.stdout  # logged as the job starts


def test_evaluation_is_also_written_to_the_output_data_dir_and_logged_as_metrics(sentiment_job):
    evaluation = sentiment_job.read_json(contract.EVALUATION_FILE)
    assert json.loads((sentiment_job.output_data_dir / contract.EVALUATION_FILE).read_text()) == evaluation
    # SageMaker metric definitions scrape "metric <name>=<value>" from the log
    assert f"metric macro_f1={evaluation['macro_f1']:.6f}" in sentiment_job.stdout.splitlines()


def test_trained_sentiment_model_answers_through_the_serving_handlers(sentiment_job):
    model = sentiment_inference.model_fn(str(sentiment_job.model_dir))
    body = json.dumps({"text": "叉燒好好食，服務好周到，一定會再嚟。"}, ensure_ascii=False).encode()
    data = sentiment_inference.input_fn(body, "application/json")
    answer = json.loads(sentiment_inference.output_fn(sentiment_inference.predict_fn(data, model), "application/json"))
    assert answer["label"] == "positive"
    assert set(answer["scores"]) == {"negative", "neutral", "positive"}
    assert max(answer["scores"], key=answer["scores"].get) == answer["label"]


def test_trained_sentiment_model_answers_a_batch_in_order(sentiment_job):
    model = sentiment_inference.model_fn(str(sentiment_job.model_dir))
    body = json.dumps({"instances": [{"text": "terrible service, rude staff, never coming back."},
                                     {"text": "loved the ramen, amazing service."}]})
    answer = json.loads(sentiment_inference.output_fn(
        sentiment_inference.predict_fn(sentiment_inference.input_fn(body, "application/json"), model),
        "application/json"))
    assert [p["label"] for p in answer["predictions"]] == ["negative", "positive"]


def test_a_missing_channel_fails_the_job_naming_the_channel(jobs):
    job = jobs["sentiment-without-test"].wait()
    assert job.returncode != 0
    output = job.stdout + job.stderr
    assert "SM_CHANNEL_TEST" in output
    assert "'test' channel" in output
    assert not (job.model_dir / contract.MODEL_FILE).exists()


# -- recommendation ----------------------------------------------------------------------
def test_recommendation_entry_point_leaves_the_model_contract_in_the_model_dir(recommendation_job):
    files = {p.name for p in recommendation_job.model_dir.iterdir()}
    assert {contract.MODEL_FILE, contract.EVALUATION_FILE, contract.REFERENCE_FILE, contract.METADATA_FILE} <= files
    evaluation = recommendation_job.read_json(contract.EVALUATION_FILE)
    for metric in ("ndcg_at_10", "hit_rate_at_10", "auc"):
        assert 0.0 < evaluation[metric] <= 1.0, metric
    assert evaluation["auc"] > 0.6
    assert evaluation["rows"] == 400 * 20
    reference = pd.read_parquet(recommendation_job.model_dir / contract.REFERENCE_FILE)
    assert "prediction" in reference.columns
    assert reference["prediction"].between(0, 1).all()
    metadata = recommendation_job.read_json(contract.METADATA_FILE)
    assert set(metadata["numerical"] + metadata["categorical"] + ["prediction"]) == set(reference.columns)


def test_recommendation_metadata_records_the_hyperparameters_from_argv(recommendation_job):
    hyperparameters = recommendation_job.read_json(contract.METADATA_FILE)["hyperparameters"]
    assert hyperparameters["max_iter"] == 40  # the default is 150
    assert hyperparameters["learning_rate"] == 0.1


def test_recommendation_beats_the_popularity_ranking_on_the_held_out_day(recommendation_job):
    evaluation = recommendation_job.read_json(contract.EVALUATION_FILE)
    assert evaluation["ndcg_at_10"] > evaluation["popularity_ndcg_at_10"] + 0.05


def test_trained_recommendation_model_ranks_the_requested_candidates(recommendation_job, interaction_channels):
    test_day = pd.read_parquet(next(interaction_channels["test"].glob("*.parquet")))
    _, request = requests_from_interactions(test_day)[0]
    model = recommendation_inference.model_fn(str(recommendation_job.model_dir))
    rows = recommendation_inference.input_fn(json.dumps(request), "application/json")
    answer = json.loads(recommendation_inference.output_fn(
        recommendation_inference.predict_fn(rows, model), "application/json"))
    candidate_ids = [c["restaurant_id"] for c in request["candidates"]]
    assert len(answer["scores"]) == len(candidate_ids) == 20
    assert sorted(answer["ranking"]) == sorted(candidate_ids)
    assert all(0.0 <= s <= 1.0 for s in answer["scores"])
    # the ranking orders the candidates by their score, best first
    score_of = dict(zip(candidate_ids, answer["scores"], strict=False))
    ranked_scores = [score_of[r] for r in answer["ranking"]]
    assert ranked_scores == sorted(ranked_scores, reverse=True)


# -- request validation (no trained model needed) ----------------------------------------
@pytest.mark.parametrize("module", [sentiment_inference, recommendation_inference], ids=["sentiment", "recommendation"])
@pytest.mark.parametrize("content_type", ["text/csv", "application/x-npy"])
def test_input_fn_rejects_a_content_type_that_is_not_json(module, content_type):
    with pytest.raises(ValueError, match="unsupported content type"):
        module.input_fn(b'{"text": "hi"}', content_type)


def _recommendation_request(world) -> dict:
    frame = world.interactions(START, 2, ScenarioPlan())
    return requests_from_interactions(frame)[0][1]


def test_a_recommendation_request_without_candidates_names_the_field(world):
    request = _recommendation_request(world)
    del request["candidates"]
    with pytest.raises(ValueError, match="candidates"):
        recommendation_inference.input_fn(json.dumps(request), "application/json")


def test_a_recommendation_request_names_every_missing_field(world):
    request = _recommendation_request(world)
    del request["emotional_state"], request["district"]
    with pytest.raises(ValueError, match="emotional_state, district"):
        recommendation_inference.input_fn(json.dumps(request), "application/json")


def test_a_recommendation_request_with_no_candidates_or_an_incomplete_one_is_refused(world):
    request = _recommendation_request(world)
    with pytest.raises(ValueError, match="non-empty 'candidates'"):
        recommendation_inference.input_fn(json.dumps({**request, "candidates": []}), "application/json")
    incomplete = [dict(c) for c in request["candidates"]]
    del incomplete[3]["distance_km"]
    with pytest.raises(ValueError, match="candidate 3 lacks field.*distance_km"):
        recommendation_inference.input_fn(json.dumps({**request, "candidates": incomplete}), "application/json")


def test_a_sentiment_request_without_text_is_refused():
    with pytest.raises(ValueError, match="'text'"):
        sentiment_inference.input_fn(b'{"review": "great"}', "application/json")


# -- hyperparameters ---------------------------------------------------------------------
def test_hyperparameters_are_typed_by_their_defaults():
    defaults = {"c": 4.0, "max_iter": 150, "name": "x"}
    assert contract.parse_hyperparameters(defaults, ["--c", "2", "--max_iter", "40"]) == {
        "c": 2.0, "max_iter": 40, "name": "x"}
    assert contract.parse_hyperparameters(defaults, []) == defaults


def test_hyperparameters_survive_the_runner_command_line():
    defaults = {"c": 4.0, "max_iter": 150, "learning_rate": 0.1, "name": "x"}
    chosen = {"c": 0.5, "max_iter": 40, "learning_rate": 0.05, "name": "two words"}
    assert contract.parse_hyperparameters(defaults, hyperparameter_args(chosen)) == chosen


def test_a_boolean_hyperparameter_set_to_false_arrives_as_false():
    defaults = {"early_stopping": True}
    assert contract.parse_hyperparameters(defaults, hyperparameter_args({"early_stopping": False})) == {
        "early_stopping": False}
