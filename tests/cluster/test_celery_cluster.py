"""The production topology for real: ``make airflow-cluster``'s processes on PostgreSQL and
Redis, CeleryExecutor with two workers, driven through the REST API.

PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) run on every project machine and on
CI's; the cluster gets a fresh database and a Redis DB index of its own, and the test stops
every process it started and drops the database.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from simulation import RECOMMENDATION, SENTIMENT, load_dag, write_catalog

from devtools.airflow_client import AirflowClient, wait_for_dags
from devtools.airflow_cluster import (
    AirflowCluster,
    ClusterConfig,
    ServiceUnreachable,
    check_services,
    drop_database,
    ensure_admin_password,
)
from devtools.local_airflow import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
START = date(2026, 10, 1)
BOOTSTRAP_END = START + timedelta(days=9)  # ten days to train on
MONITORED = [BOOTSTRAP_END + timedelta(days=k) for k in (1, 2, 3)]
RESTART_BACKFILL = [BOOTSTRAP_END + timedelta(days=k) for k in (4, 5, 6)]  # the scheduler restarts during it
MODELS = ("recommendation", "sentiment")
DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/findining_cluster_test_{os.getpid()}"
BROKER_URL = "redis://127.0.0.1:6379/14"  # this test's own DB index on the shared server
REPORTS = ("drift.json", "performance.json", "decision.json")
SMALL_MONITORING = {"min_rows": 50, "html_sample_size": 200}


class PasswordClient(AirflowClient):
    """The REST API as a named user (the cluster has no "everyone is admin")."""

    def __init__(self, base_url: str, password: str):
        super().__init__(base_url)
        self.password = password

    def token(self) -> str:
        if self._token is None:
            self._token = self._request("POST", "/auth/token", authenticated=False, body=
                                        {"username": "admin", "password": self.password})["access_token"]
        return self._token

    def task_instances(self, dag_id: str = "~", run_id: str = "~") -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000"
        return self._request("GET", path)["task_instances"]

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")


def clear_broker_index() -> None:
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()  # this test's DB index only, never the server


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """Sixteen small days of app data, the small catalog, the local backend."""
    from findining_mlops.data.synthetic import generate
    from findining_mlops.platform.local import local_platform

    tmp = tmp_path_factory.mktemp("cluster")
    catalog = write_catalog(tmp / "models.toml", {
        "recommendation": {**RECOMMENDATION, "monitoring": SMALL_MONITORING},
        "sentiment": {**SENTIMENT, "monitoring": SMALL_MONITORING}})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FINDINING_MODELS_CONFIG", str(catalog))
        env.setenv("FINDINING_HOME", str(tmp / "findining"))
        env.setenv("FINDINING_BACKEND", "local")
        platform = local_platform(tmp / "findining", seed=5)
        generate(platform.store, START, 16, seed=5, requests_per_day=150, reviews_per_day=150)
        yield platform


@pytest.fixture(scope="module")
def cluster(platform, tmp_path_factory):
    # FINDINING_HOME is the platform fixture's: the cluster's tasks and this test share one local backend
    config = ClusterConfig(
        project=ROOT, home=tmp_path_factory.mktemp("airflow"), findining_home=Path(os.environ["FINDINING_HOME"]),
        database_url=DATABASE_URL, broker_url=BROKER_URL, port=free_port(), workers=2, worker_concurrency=2,
        extra_env={
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            # only the runs this test makes: no scheduled run of the real calendar
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # a killed worker's task is declared lost after 20 s instead of 5 minutes
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        })
    try:
        check_services(config)
    except ServiceUnreachable as exc:
        pytest.fail(f"the distributed test needs the machine's services: {exc}")
    drop_database(DATABASE_URL)
    clear_broker_index()
    cluster = AirflowCluster(config)
    try:
        with cluster:
            client = PasswordClient(config.base_url, ensure_admin_password(config))
            wait_for_dags(client, ["model_retraining", "model_monitoring"])
            for dag_id in ("model_retraining", "model_monitoring"):
                client.set_paused(dag_id, False)
            yield cluster, client
    finally:
        drop_database(DATABASE_URL)
        clear_broker_index()
    assert not cluster.processes, "every component the test started is stopped"


def training_jobs(platform, model: str) -> set[str]:
    return {key.split("/")[2] for key in platform.store.list_keys(f"training/{model}/")}


def backfill_runs(client: PasswordClient, dag_id: str, days: list[date]) -> list[dict]:
    wanted = {d.isoformat() for d in days}
    return [r for r in client.runs(dag_id) if r["run_type"] == "backfill" and r["logical_date"][:10] in wanted]


def wait_for_backfill(client: PasswordClient, dag_id: str, days: list[date], timeout: float = 600) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = backfill_runs(client, dag_id, days)
        if len(runs) >= len(days) and all(r["state"] in ("success", "failed") for r in runs):
            return runs
        time.sleep(2)
    raise TimeoutError(f"{dag_id}: the backfill of {days[0]}..{days[-1]} did not finish within {timeout:.0f} s")


def replay(platform, days: list[date]) -> None:
    from devtools.traffic import replay_day
    from findining_mlops.config.catalog import get_model

    for day in days:
        for model in MODELS:
            assert replay_day(platform, get_model(model), day).errors == 0


def test_retraining_and_monitoring_backfill_run_across_two_celery_workers(cluster, platform, airflow_db):
    airflow, client = cluster
    runs = [client.trigger("model_retraining", {"model_name": m, "reason": "bootstrap on the cluster",
                                                "data_end_date": BOOTSTRAP_END.isoformat()}) for m in MODELS]
    assert client.wait("model_retraining", runs, timeout=600) == {run: "success" for run in runs}
    for model in MODELS:
        assert len(training_jobs(platform, model)) == 1
        assert [v.version for v in platform.registry.list_versions(model)] == [1]

    replay(platform, MONITORED)
    client.backfill("model_monitoring", MONITORED[0], MONITORED[-1])
    backfill = wait_for_backfill(client, "model_monitoring", MONITORED)
    assert sorted(r["logical_date"][:10] for r in backfill) == [d.isoformat() for d in MONITORED]
    assert {r["state"] for r in backfill} == {"success"}
    for model in MODELS:
        for day in MONITORED:
            decision = json.loads(platform.store.read_bytes(f"reports/{model}/dt={day}/decision.json"))
            assert decision["retrain"] is False  # a stable world: nothing to retrain

    instances = client.task_instances()
    assert instances and {ti["state"] for ti in instances} <= {"success", "skipped"}
    workers = {AirflowCluster.worker_node(name) for name in airflow.worker_names()}
    assert {ti["hostname"] for ti in instances if ti["state"] == "success"} == workers

    # the last day again, in-process as the rest of the suite runs DAGs: the same reports, byte for byte
    day = MONITORED[-1]
    on_cluster = {(m, name): platform.store.read_bytes(f"reports/{m}/dt={day}/{name}")
                  for m in MODELS for name in REPORTS}
    when = datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert load_dag("model_monitoring").test(logical_date=when, run_after=when + timedelta(days=1)).state == "success"
    assert {key: platform.store.read_bytes(f"reports/{key[0]}/dt={day}/{key[1]}") for key in on_cluster} == on_cluster


def test_a_worker_killed_during_training_leaves_one_job_and_one_version(cluster, platform):
    airflow, client = cluster
    jobs_before = training_jobs(platform, "sentiment")
    versions_before = platform.registry.list_versions("sentiment")
    run = client.trigger("model_retraining", {"model_name": "sentiment", "reason": "a worker dies mid-training",
                                              "data_end_date": BOOTSTRAP_END.isoformat()})
    deadline = time.monotonic() + 300
    while (train := client.task_instance("model_retraining", run, "train"))["state"] != "running" \
            or not train["hostname"]:
        assert time.monotonic() < deadline, f"the train task never ran: {train}"
        time.sleep(0.5)
    victim = next(n for n in airflow.worker_names() if AirflowCluster.worker_node(n) == train["hostname"])
    os.killpg(airflow.processes[victim].pid, signal.SIGKILL)  # the worker and its task processes
    airflow.processes[victim].wait()
    airflow.processes.pop(victim)

    assert client.wait("model_retraining", [run], timeout=600) == {run: "success"}
    final = client.task_instance("model_retraining", run, "train")
    assert final["try_number"] >= 2 and final["hostname"] != train["hostname"]
    assert len(training_jobs(platform, "sentiment") - jobs_before) == 1
    assert len(platform.registry.list_versions("sentiment")) == len(versions_before) + 1


def test_a_scheduler_restarted_mid_backfill_finishes_it_without_duplicate_runs(cluster, platform):
    airflow, client = cluster
    replay(platform, RESTART_BACKFILL)
    client.backfill("model_monitoring", RESTART_BACKFILL[0], RESTART_BACKFILL[-1])
    deadline = time.monotonic() + 300
    while not any(r["state"] == "success" for r in backfill_runs(client, "model_monitoring", RESTART_BACKFILL)):
        assert time.monotonic() < deadline, "the backfill's first run never finished"
        time.sleep(1)
    assert not all(r["state"] == "success" for r in backfill_runs(client, "model_monitoring", RESTART_BACKFILL))
    airflow.stop("scheduler")
    airflow.start("scheduler")

    runs = wait_for_backfill(client, "model_monitoring", RESTART_BACKFILL)
    assert sorted(r["logical_date"][:10] for r in runs) == [d.isoformat() for d in RESTART_BACKFILL]
    assert {r["state"] for r in runs} == {"success"}
    every_day = [r["logical_date"][:10] for r in client.runs("model_monitoring")]
    assert len(every_day) == len(set(every_day)) == len(MONITORED) + len(RESTART_BACKFILL)


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own, with an append-only file, that the test may restart."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
               "--appendonly", "yes", "--save", ""]
    servers: list[subprocess.Popen] = []

    def start() -> None:
        import redis

        servers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True))
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis(port=port).ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the private redis-server did not start"
                time.sleep(0.2)

    def restart() -> None:
        servers[-1].terminate()  # SHUTDOWN: the append-only file is flushed
        servers[-1].wait(timeout=30)
        start()

    start()
    yield f"redis://127.0.0.1:{port}/0", restart
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_tasks_queued_while_redis_restarts_are_not_lost(cluster, platform, private_redis):
    import redis

    airflow, client = cluster
    broker_url, restart_redis = private_redis
    # the broker moves to a redis-server this test may restart: scheduler and workers follow
    airflow.config = dataclasses.replace(airflow.config, broker_url=broker_url)
    components = ["scheduler", *airflow.worker_names()]
    for name in components:
        if name in airflow.processes:
            airflow.stop(name)
    airflow.start("scheduler")
    versions_before = len(platform.registry.list_versions("recommendation"))
    run = client.trigger("model_retraining", {"model_name": "recommendation", "reason": "the broker restarts",
                                              "data_end_date": BOOTSTRAP_END.isoformat()})
    queue = redis.Redis.from_url(broker_url)
    deadline = time.monotonic() + 120
    while not queue.llen("default"):  # no worker yet: the first task waits in the broker
        assert time.monotonic() < deadline, "no task reached the broker"
        time.sleep(0.5)

    restart_redis()
    assert queue.llen("default") >= 1, "the queued task survived the restart"
    for name in airflow.worker_names():
        airflow.start(name)
    assert client.wait("model_retraining", [run], timeout=600) == {run: "success"}
    assert len(platform.registry.list_versions("recommendation")) == versions_before + 1
