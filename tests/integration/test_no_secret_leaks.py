"""No secret of the worker leaks through a retraining run (``dag.test``): a training job gets
only what SageMaker would give it, so even a script that prints its whole environment
publishes no credential or connection string — not in the job's log, the task log, the
failure reason, the alert, the registry or any report.

The worker holds a fake AWS secret and an Airflow connection (``AIRFLOW_CONN_*``) with a
password; after a successful and a failed run, every log line, alert and file written is
searched for them."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from simulation import SENTIMENT, load_dag, read_alerts

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent / "fixtures"
AWS_SECRET = "fake-aws-secret-0b7e41"
CONNECTION_PASSWORD = "fake-conn-password-93cd2a"
SECRETS = (AWS_SECRET, CONNECTION_PASSWORD)
CARELESS = {**SENTIMENT, "package": "findining_test_models.careless"}


@pytest.fixture
def worker_secrets(monkeypatch):
    """What a production worker holds: cloud credentials and Airflow connections."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AIRFLOW_CONN_FINDINING_WAREHOUSE",
                       f"postgresql://etl:{CONNECTION_PASSWORD}@warehouse.internal:5432/findining")


@pytest.fixture
def retraining_dag(airflow_db, use_catalog, monkeypatch):
    use_catalog(careless=CARELESS, careless_failing={**CARELESS, "hyperparameters": {
        **CARELESS["hyperparameters"], "fail": True}})
    # the careless model's modules, for the training subprocess and for this process's evaluation
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(FIXTURES), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(FIXTURES))
    return load_dag("model_retraining")


def written_files(*roots: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for root in roots for path in root.rglob("*") if path.is_file()}


def test_a_script_printing_its_environment_publishes_no_secret(retraining_dag, worker_secrets, small_data, home,
                                                                capfd, caplog):
    caplog.set_level(logging.INFO)
    trained = retraining_dag.test(logical_date=datetime(2026, 10, 11, tzinfo=UTC),
                                  run_after=datetime(2026, 10, 11, tzinfo=UTC),
                                  run_conf={"model_name": "careless", "reason": "x", "data_end_date": "2026-10-10"})
    failed = retraining_dag.test(logical_date=datetime(2026, 10, 12, tzinfo=UTC),
                                 run_after=datetime(2026, 10, 12, tzinfo=UTC),
                                 run_conf={"model_name": "careless_failing", "reason": "x",
                                           "data_end_date": "2026-10-10"})
    assert (trained.state, failed.state) == ("success", "failed")

    # the script did print its environment, and the failure's log tail reached the alert
    job_logs = sorted((home / "training-jobs").glob("*/logs.txt"))
    assert len(job_logs) == 2 and all("environment:" in log.read_text() for log in job_logs)
    assert "SM_CHANNEL_TRAIN" in job_logs[0].read_text()
    [alert] = read_alerts(home)
    assert "environment:" in alert["Message"] and "synthetic failure" in alert["Message"]
    assert small_data.registry.list_versions("careless")[0].status == "Approved"

    captured = capfd.readouterr()
    texts = {"stdout": captured.out, "stderr": captured.err, "log records": caplog.text}
    texts.update({str(path): data.decode("utf-8", "replace")
                  for path, data in written_files(home, Path(os.environ["AIRFLOW_HOME"])).items()})
    leaks = [(where, secret) for where, text in texts.items() for secret in SECRETS if secret in text]
    assert leaks == []
