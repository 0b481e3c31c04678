"""The process cluster's launcher without starting Airflow: settings and service checks."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest

from devtools.airflow_cluster import (
    AirflowCluster,
    ClusterConfig,
    ServiceUnreachable,
    check_services,
    main,
    worker_hostname,
)


def closed_port() -> int:
    """A port nothing listens on: bound, never listened, released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def config(tmp_path: Path, **overrides) -> ClusterConfig:
    return ClusterConfig(project=Path.cwd(), home=tmp_path / "airflow", findining_home=tmp_path / "findining",
                         **overrides)


def test_unreachable_postgres_is_named_with_its_address(tmp_path):
    port = closed_port()
    with pytest.raises(ServiceUnreachable, match=rf"PostgreSQL \(the metadata database\) at 127.0.0.1:{port}"):
        check_services(config(tmp_path, database_url=f"postgresql://postgres@127.0.0.1:{port}/cluster"))


def test_unreachable_redis_is_named_with_its_address(tmp_path, monkeypatch):
    import psycopg2

    monkeypatch.setattr(psycopg2, "connect", lambda *a, **k: type("Connection", (), {"close": lambda self: None})())
    port = closed_port()
    with pytest.raises(ServiceUnreachable, match=rf"Redis \(the Celery broker\) at 127.0.0.1:{port}"):
        check_services(config(tmp_path, broker_url=f"redis://127.0.0.1:{port}/3"))


def test_command_fails_with_the_service_name_and_starts_nothing(tmp_path, capsys):
    port = closed_port()
    code = main(["--airflow-home", str(tmp_path / "airflow"),
                 "--database-url", f"postgresql://postgres@127.0.0.1:{port}/cluster"])
    assert code == 1
    assert f"PostgreSQL (the metadata database) at 127.0.0.1:{port} is not reachable" in capsys.readouterr().err
    assert not (tmp_path / "airflow" / "cluster-logs").exists()


def test_components_share_one_database_and_broker_with_a_local_ui_and_no_all_admins(tmp_path):
    env = config(tmp_path, database_url="postgresql://postgres@db.internal:5433/cluster_a",
                 broker_url="redis://127.0.0.1:6379/7", port=18123).env()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://postgres@db.internal:5433/cluster_a"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg2://postgres@db.internal:5433/cluster_a"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/7"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18123/execution/"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"


def test_n_workers_with_distinct_celery_node_names(tmp_path):
    commands = AirflowCluster(config(tmp_path, workers=3)).component_commands()
    assert {"scheduler", "dag-processor", "triggerer", "api-server"} < set(commands)
    nodes = [cmd[cmd.index("--celery-hostname") + 1] for name, cmd in commands.items() if name.startswith("worker-")]
    assert len(nodes) == len(set(nodes)) == 3
    api = commands["api-server"]
    assert api[api.index("--host") + 1] == "127.0.0.1"


def test_worker_hostname_is_the_celery_node_name(monkeypatch):
    monkeypatch.setenv("FINDINING_CELERY_WORKER_NAME", "worker-2@box")
    assert worker_hostname() == "worker-2@box"
    monkeypatch.delenv("FINDINING_CELERY_WORKER_NAME")
    assert worker_hostname() == socket.getfqdn()


@pytest.fixture
def stand_ins(monkeypatch):
    """The command with stand-in programs for the Airflow components (no database, no broker);
    returns how to set the programs and the process ids it started."""
    import devtools.airflow_cluster as launcher

    started: list[int] = []
    real_start = AirflowCluster.start

    def start(self, name):
        process = real_start(self, name)
        started.append(process.pid)
        return process

    monkeypatch.setattr(launcher, "check_services", lambda config: None)
    monkeypatch.setattr(AirflowCluster, "migrate", lambda self: self.config.log_dir.mkdir(parents=True))
    monkeypatch.setattr(AirflowCluster, "wait_until_healthy", lambda self: None)
    monkeypatch.setattr(AirflowCluster, "start", start)

    def programs(commands: dict[str, str]) -> list[int]:
        monkeypatch.setattr(AirflowCluster, "component_commands",
                            lambda self: {name: ["sh", "-c", script] for name, script in commands.items()})
        return started

    return programs


# each stand-in has a child in its group, as a worker has its task processes
RUNNING = "sleep 300 & sleep 300"


def test_sigterm_stops_every_component_the_command_started(tmp_path, stand_ins):
    import os
    import signal
    import threading

    started = stand_ins({"scheduler": RUNNING, "api-server": RUNNING, "worker-1": RUNNING})
    previous = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(2, os.kill, (os.getpid(), signal.SIGTERM))
    try:
        timer.start()
        with pytest.raises(SystemExit):
            main(["--airflow-home", str(tmp_path / "airflow")])
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)
    assert len(started) == 3
    assert not survivors(started)


def test_a_component_that_exits_stops_the_cluster_and_is_named(tmp_path, stand_ins, capsys):
    started = stand_ins({"scheduler": RUNNING, "api-server": RUNNING, "worker-1": "sleep 1; exit 3"})
    assert main(["--airflow-home", str(tmp_path / "airflow")]) == 1
    assert "worker-1 exited with 3" in capsys.readouterr().err
    assert not survivors(started)


def survivors(groups: list[int], grace: float = 5) -> list[int]:
    """Live processes of these groups once SIGKILL had ``grace`` seconds to land."""
    import time

    deadline = time.monotonic() + grace
    while (alive := [p.pid for p in psutil.process_iter() if _group(p) in groups and _alive(p)]) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _group(process) -> int | None:
    import os

    try:
        return os.getpgid(process.pid)
    except ProcessLookupError:
        return None


def _alive(process) -> bool:
    """Running, not a zombie awaiting its (re-)parent's wait()."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
