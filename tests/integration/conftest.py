"""Integration fixtures: a small model catalog per test, and model_deployment runs cleared around a test."""

from __future__ import annotations

import pytest
from simulation import write_catalog


@pytest.fixture
def use_catalog(tmp_path, monkeypatch):
    """``use_catalog(sentiment={...})`` makes the pipeline (and DAG forms) see only these models."""

    def use(**models: dict):
        path = write_catalog(tmp_path / "models.toml", models)
        monkeypatch.setenv("FINDINING_MODELS_CONFIG", str(path))
        return path

    return use


@pytest.fixture
def deployments(airflow_db):
    """model_deployment runs triggered during the test. The Airflow database is the
    session's: runs are removed before and after, so a run id (``upload__sentiment__v2``)
    of another test can be triggered again."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    def remove_runs():
        with create_session() as session:
            session.query(DagRun).filter(DagRun.dag_id == "model_deployment").delete()

    remove_runs()
    yield lambda: DagRun.find(dag_id="model_deployment")
    remove_runs()
