"""Shared fixtures: an isolated Airflow home and FINDINING_HOME, and small synthetic data."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Airflow reads its configuration once, at import: point it at a throw-away home first.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="findining-airflow-test-")
os.environ.update(
    AIRFLOW_HOME=_AIRFLOW_HOME,
    AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
    AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
    # tests re-parse the same DAG files under different model catalogs (so other Param enums)
    # seconds apart: the database must always take the newest parse, not keep one for 30 s
    AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL="0",
    # a task that fails and retries (e.g. a deployment refused by a busy endpoint) retries at once
    FINDINING_RETRY_DELAY_SECONDS="0",
)

# One OpenMP thread per process (and per training job it starts): the tests already run on
# every core, and a scikit-learn model that answers one request at a time otherwise spends
# most of its time waking OpenMP threads that compete for the same cores (about 3x slower).
os.environ.setdefault("OMP_NUM_THREADS", "1")

START = date(2026, 10, 1)
# Each of these files shares one long-lived Airflow among its tests (a module-scoped fixture).
# First in the collection, so that under `--dist loadfile` each starts at once on a worker of its
# own, in parallel with each other and with everything else.
LONG_LIVED_AIRFLOW = ("tests/cluster/", "tests/browser/")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        return next((i for i, prefix in enumerate(LONG_LIVED_AIRFLOW) if item.nodeid.startswith(prefix)),
                    len(LONG_LIVED_AIRFLOW))

    items.sort(key=rank)  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _stop_model_servers():
    """Model servers a test started (by invoking a local endpoint) stop with the test."""
    yield
    import sys

    pool = sys.modules.get("findining_mlops.serving.server.pool")
    if pool is not None:
        pool.stop_servers()


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "findining"
    monkeypatch.setenv("FINDINING_HOME", str(path))
    monkeypatch.setenv("FINDINING_BACKEND", "local")
    return path


@pytest.fixture
def platform(home):
    from findining_mlops.platform.local import local_platform

    return local_platform(home, seed=11)


@pytest.fixture
def small_data(platform):
    """Ten small days of both datasets: enough to train and evaluate in seconds."""
    from findining_mlops.data.synthetic import generate

    generate(platform.store, START, 10, seed=3, requests_per_day=150, reviews_per_day=150)
    return platform


@pytest.fixture
def fault_drill_endpoints(monkeypatch):
    """Endpoints served by this process honour fault-injection.json, as on a rollback drill
    (production ignores the file)."""
    from findining_mlops.serving.server.handlers import FAULT_DRILL_ENV

    monkeypatch.setenv(FAULT_DRILL_ENV, "1")


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated SQLite metadata database for ``dag.test()`` runs."""
    from airflow.utils import db

    db.resetdb()
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def trained_jobs(tmp_path_factory):
    """Pass to ``simulation.bootstrap``: each model is trained once per session (and
    xdist worker) on each distinct data set, and copied where a test trains it again."""
    from simulation import TrainedJobs

    return TrainedJobs(tmp_path_factory.mktemp("trained-jobs"))


@pytest.fixture
def sandbox_writable():
    """A folder that code in the sandbox may write (its evidence for a test), under the sandbox root."""
    from findining_mlops.platform.sandbox import sandbox_dir, workspace

    return sandbox_dir(workspace("test-") / "writable")
