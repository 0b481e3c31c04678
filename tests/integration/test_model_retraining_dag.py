"""The model_retraining DAG end to end through Airflow (``dag.test``), on small data."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from simulation import read_alerts

FIXTURES = Path(__file__).parent / "fixtures"
DAG_ID = "model_retraining"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def test_catalog(monkeypatch):
    monkeypatch.setenv("FINDINING_MODELS_CONFIG", str(FIXTURES / "models.toml"))
    # the training subprocess imports the failing test model from here
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(FIXTURES), os.environ.get("PYTHONPATH")])))


@pytest.fixture
def retraining_dag(airflow_db, test_catalog):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "model_retraining.py"))
    assert not bag.import_errors
    dag = bag.dags[DAG_ID]
    dag.get_task("train").poll_interval = 0.2  # the small jobs take seconds, not the 5 s the operator waits by default
    return dag


def run(dag, conf: dict, logical_date: datetime):
    # a fixed run_after gives a fixed run id: calling again re-runs (clears) the same DAG run
    return dag.test(logical_date=logical_date, run_after=logical_date, run_conf=conf)



def test_retraining_registers_an_approved_version_served_by_the_endpoint(retraining_dag, small_data, home):
    when = datetime(2026, 10, 11, tzinfo=UTC)
    conf = {"model_name": "sentiment", "reason": "first model", "data_end_date": "2026-10-10"}
    dagrun = run(retraining_dag, conf, when)
    assert dagrun.state == "success"

    versions = small_data.registry.list_versions("sentiment")
    assert [(v.version, v.status) for v in versions] == [(1, "Approved")]
    version = versions[0]
    assert small_data.store.exists("models/sentiment/1/model.tar.gz")
    assert version.metrics["macro_f1"] > 0.6 and "accuracy" in version.metrics
    assert version.reason == "first model"
    assert version.lineage["training_job"].startswith("findining-sentiment-")
    assert version.lineage["data_snapshot"]["days"]["test"] == ["2026-10-09", "2026-10-10"]
    assert "findining-mlops" in version.lineage["code_version"]
    assert small_data.store.exists("baselines/sentiment/1/reference.parquet")

    endpoint = small_data.endpoints.describe("ai-restaurant-recommendation-sentiment-endpoint")
    assert [(v.model_version, v.weight) for v in endpoint.variants] == [(1, 1.0)]
    answer = small_data.endpoints.invoke(endpoint.name, json.dumps({"text": "好好食，一定會再嚟"}).encode())
    assert json.loads(answer.body)["label"] == "positive"

    # the same DAG run again: same training job, same version, nothing new
    again = run(retraining_dag, conf, when)
    assert again.state == "success" and again.run_id == dagrun.run_id
    assert len(small_data.registry.list_versions("sentiment")) == 1
    assert len(list((home / "training-jobs").iterdir())) == 1


def test_unknown_model_is_refused_by_params_validation(retraining_dag, small_data):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="model_name"):
        run(retraining_dag, {"model_name": "weather", "reason": "x"}, datetime(2026, 10, 12, tzinfo=UTC))


def test_missing_partition_fails_the_run_by_name_and_alerts(retraining_dag, small_data, home):
    dagrun = run(retraining_dag, {"model_name": "recommendation", "reason": "x", "data_end_date": "2026-10-20"},
                 datetime(2026, 10, 21, tzinfo=UTC))
    assert dagrun.state == "failed"
    [alert] = read_alerts(home)
    assert "model_retraining" in alert["Subject"] and len(alert["Subject"]) <= 100
    assert "data/interactions/dt=2026-10-20" in alert["Message"]
    assert small_data.registry.list_versions() == []


def test_failing_training_script_fails_the_task_and_registers_nothing(retraining_dag, small_data, home):
    dagrun = run(retraining_dag, {"model_name": "broken", "reason": "x", "data_end_date": "2026-10-10"},
                 datetime(2026, 10, 13, tzinfo=UTC))
    assert dagrun.state == "failed"
    [job_dir] = (home / "training-jobs").iterdir()
    status = json.loads((job_dir / "status.json").read_text())
    assert status["status"] == "Failed"
    assert "synthetic failure: the feature store is unreachable" in status["failure_reason"]
    assert "synthetic failure" in read_alerts(home)[0]["Message"]
    assert small_data.registry.list_versions() == []


def test_an_approved_retraining_of_a_live_model_hands_over_to_a_canary_deployment(retraining_dag, small_data,
                                                                                   monkeypatch):
    from airflow.models.dagrun import DagRun

    monkeypatch.setenv("FINDINING_DEPLOYMENT_DEFAULTS", '{"bake_minutes": 1}')
    conf = {"model_name": "sentiment", "reason": "drift", "data_end_date": "2026-10-10"}
    assert run(retraining_dag, conf, datetime(2026, 10, 14, tzinfo=UTC)).state == "success"
    assert run(retraining_dag, conf, datetime(2026, 10, 15, tzinfo=UTC)).state == "success"
    assert [v.status for v in small_data.registry.list_versions("sentiment")] == ["Approved", "Approved"]
    endpoint = small_data.endpoints.describe("ai-restaurant-recommendation-sentiment-endpoint")
    assert [v.model_version for v in endpoint.variants] == [1]  # the canary is model_deployment's job
    [deployment] = DagRun.find(dag_id="model_deployment", run_id="retraining__sentiment__v2")
    assert deployment.conf == {"model_name": "sentiment", "version": 2, "strategy": "canary", "canary_percent": 10,
                               "ramp": [10, 50, 100], "bake_minutes": 1}
