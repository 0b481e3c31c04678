"""``make airflow-cluster``: docker-compose.yaml's topology as processes on this machine.

A PostgreSQL metadata database and a Redis broker (both already running), then the Airflow
components as separate processes, the way they run on separate machines in production:
scheduler, DAG processor, triggerer, API server and N Celery workers (CeleryExecutor).
The cluster uses a database and a Redis DB index of its own, so it never touches another
application's state on the same servers.

Every component runs in its own process group and writes its own log under
``$AIRFLOW_HOME/cluster-logs``; SIGTERM or Ctrl-C stops every process the launcher started,
and so does any component exiting on its own (a half-running cluster hides failures).
This module starts Airflow as programs and never imports it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from findining_mlops.errors import FindiningError

log = logging.getLogger("findining.cluster")

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/findining_airflow"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/3"
WORKER_NAME_VARIABLE = "FINDINING_CELERY_WORKER_NAME"
ADMIN_USER = "admin"


class ServiceUnreachable(FindiningError):
    """PostgreSQL or Redis cannot be reached; the message names which and where."""


class ComponentFailed(FindiningError):
    """An Airflow component exited or did not become ready; the message names its log."""


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers: the Celery node name (``worker-1@host``).

    Task instances record it, so every run shows which worker ran each task even when all
    workers share one machine, as on a laptop or in the tests.
    """
    return os.environ.get(WORKER_NAME_VARIABLE) or socket.getfqdn()


@dataclass(frozen=True)
class ClusterConfig:
    project: Path
    home: Path  # this cluster's AIRFLOW_HOME: airflow.cfg (Fernet key, JWT secret), logs, passwords
    findining_home: Path
    database_url: str = DEFAULT_DATABASE_URL  # postgresql://user[:password]@host:port/database
    broker_url: str = DEFAULT_BROKER_URL  # redis://host:port/db-index
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    worker_concurrency: int = 4
    api_workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)  # further AIRFLOW__* settings

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.home / "cluster-logs"

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def env(self) -> dict[str, str]:
        """The environment every component shares: one database, one broker, one home."""
        database = urlsplit(self.database_url)
        env = dict(os.environ)
        env.update(
            PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
            AIRFLOW_HOME=str(self.home),
            FINDINING_HOME=str(self.findining_home),
            FINDINING_BACKEND=env.get("FINDINING_BACKEND", "local"),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.project / "dags"),
            AIRFLOW__CORE__PLUGINS_FOLDER=str(self.project / "plugins"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=urlunsplit(database._replace(scheme="postgresql+psycopg2")),
            AIRFLOW__CELERY__RESULT_BACKEND=urlunsplit(database._replace(scheme="db+postgresql+psycopg2")),
            AIRFLOW__CELERY__BROKER_URL=self.broker_url,
            AIRFLOW__CELERY__WORKER_CONCURRENCY=str(self.worker_concurrency),
            AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS="findining_airflow.celery_config.CELERY_CONFIG",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.base_url}/execution/",
            AIRFLOW__API__HOST=self.host,
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__BASE_URL=self.base_url,
            # named users with roles, never "everyone is admin"
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
                                                             f"{ADMIN_USER}:admin"),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.passwords_file),
        )
        env.update(self.extra_env)
        return env


def check_services(config: ClusterConfig) -> None:
    """Raises ServiceUnreachable naming the service, its address and how to fix it."""
    import psycopg2
    import redis

    database = urlsplit(config.database_url)
    try:
        psycopg2.connect(_maintenance_url(config.database_url), connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        raise ServiceUnreachable(
            f"PostgreSQL (the metadata database) at {database.hostname}:{database.port or 5432} is not "
            f"reachable ({_one_line(exc)}). Start PostgreSQL or point --database-url / "
            f"FINDINING_CLUSTER_DATABASE_URL at one.") from None
    broker = urlsplit(config.broker_url)
    try:
        redis.Redis.from_url(config.broker_url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise ServiceUnreachable(
            f"Redis (the Celery broker) at {broker.hostname}:{broker.port or 6379} is not reachable "
            f"({_one_line(exc)}). "
            "Start redis-server or point --broker-url / FINDINING_CLUSTER_BROKER_URL at one.") from None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()).rstrip(".")


def _maintenance_url(database_url: str) -> str:
    """The server's ``postgres`` database: where a database is created or dropped from."""
    return urlunsplit(urlsplit(database_url)._replace(path="/postgres"))


def _database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


def _admin_command(database_url: str, statement: str) -> None:
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(_maintenance_url(database_url), connect_timeout=5)
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL(statement).format(sql.Identifier(_database_name(database_url))))
    finally:
        connection.close()


def create_database(database_url: str) -> None:
    """Creates the metadata database unless it exists."""
    import psycopg2

    with suppress(psycopg2.errors.DuplicateDatabase):
        _admin_command(database_url, "CREATE DATABASE {}")


def drop_database(database_url: str) -> None:
    _admin_command(database_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


def ensure_admin_password(config: ClusterConfig) -> str:
    """The admin's password, generated on first start and kept in the cluster's home (0600)."""
    if not config.passwords_file.exists():
        config.home.mkdir(parents=True, exist_ok=True)
        config.passwords_file.touch(mode=0o600)
        config.passwords_file.write_text(json.dumps({ADMIN_USER: secrets.token_urlsafe(18)}) + "\n")
    return json.loads(config.passwords_file.read_text())[ADMIN_USER]


class AirflowCluster:
    """The running components, by name; each is a process group the cluster started."""

    def __init__(self, config: ClusterConfig):
        self.config = config
        self.processes: dict[str, subprocess.Popen] = {}

    def component_commands(self) -> dict[str, list[str]]:
        airflow = [sys.executable, "-m", "airflow"]
        commands = {
            "scheduler": [*airflow, "scheduler"],
            "dag-processor": [*airflow, "dag-processor"],
            # logs are files under one AIRFLOW_HOME here: no log server needed (nor its port)
            "triggerer": [*airflow, "triggerer", "--skip-serve-logs"],
            "api-server": [*airflow, "api-server", "--host", self.config.host, "--port", str(self.config.port),
                           "--workers", str(self.config.api_workers)],
        }
        for name in self.worker_names():
            commands[name] = [*airflow, "celery", "worker", "--celery-hostname", self.worker_node(name),
                              "--skip-serve-logs"]
        return commands

    def worker_names(self) -> list[str]:
        return [f"worker-{n}" for n in range(1, self.config.workers + 1)]

    @staticmethod
    def worker_node(name: str) -> str:
        return f"{name}@{socket.getfqdn()}"

    def migrate(self) -> None:
        create_database(self.config.database_url)
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.config.log_dir / "db-migrate.log"
        with log_path.open("ab") as output:
            result = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=self.config.env(),
                                    stdout=output, stderr=subprocess.STDOUT)
        if result.returncode:
            raise ComponentFailed(f"airflow db migrate exited with {result.returncode}; see {log_path}")

    def start(self, name: str) -> subprocess.Popen:
        """Starts (or restarts) one component in a process group of its own."""
        env = self.config.env()
        if name.startswith("worker-"):
            env.update({WORKER_NAME_VARIABLE: self.worker_node(name),
                        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname"})
        log_path = self.config.log_dir / f"{name}.log"
        with log_path.open("ab") as output:
            process = subprocess.Popen(self.component_commands()[name], env=env, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def start_all(self) -> None:
        ensure_admin_password(self.config)
        for name in self.component_commands():
            self.start(name)

    def stop(self, name: str, timeout: float = 60) -> None:
        """SIGTERM to the component's group (a worker finishes its tasks), SIGKILL after ``timeout``."""
        process = self.processes.pop(name)
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", name, timeout)
        # children (task supervisors, uvicorn workers) share the group: none may outlive it
        _signal_group(process, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        for name in list(self.processes):
            self.stop(name)

    def exited(self) -> dict[str, int]:
        return {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}

    def wait_until_healthy(self, timeout: float = 240) -> None:
        """Until the API server reports a healthy database, scheduler, DAG processor and
        triggerer; fails at once, naming its log, when a component exits."""
        deadline = time.monotonic() + timeout
        while not self._healthy():
            self.raise_if_exited()
            if time.monotonic() > deadline:
                raise ComponentFailed(f"the cluster was not healthy within {timeout:.0f} s; "
                                      f"see the logs in {self.config.log_dir}")
            time.sleep(1)

    def raise_if_exited(self) -> None:
        for name, code in self.exited().items():
            raise ComponentFailed(f"{name} exited with {code}; see {self.config.log_dir / (name + '.log')}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.config.base_url}/api/v2/monitor/health", timeout=5) as response:
                health = json.loads(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return False
        return all(health.get(c, {}).get("status") == "healthy"
                   for c in ("metadatabase", "scheduler", "dag_processor", "triggerer"))

    def __enter__(self) -> AirflowCluster:
        try:
            self.migrate()
            self.start_all()
            self.wait_until_healthy()
        except BaseException:
            self.stop_all()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _stop_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the cluster's __exit__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    parser.add_argument("--airflow-home", type=Path,
                        help="this cluster's AIRFLOW_HOME (default: <project>/.airflow-cluster)")
    parser.add_argument("--database-url", default=os.environ.get("FINDINING_CLUSTER_DATABASE_URL",
                                                                 DEFAULT_DATABASE_URL))
    parser.add_argument("--broker-url", default=os.environ.get("FINDINING_CLUSTER_BROKER_URL", DEFAULT_BROKER_URL))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("FINDINING_CLUSTER_WORKERS", "2")))
    parser.add_argument("--host", default="127.0.0.1", help="where the UI/API listens (default: this machine only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("FINDINING_AIRFLOW_PORT", "8080")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    project = args.project_dir.resolve()
    config = ClusterConfig(
        project=project, home=(args.airflow_home or project / ".airflow-cluster").resolve(),
        findining_home=Path(os.environ.get("FINDINING_HOME", project / ".findining")).resolve(),
        database_url=args.database_url, broker_url=args.broker_url, host=args.host, port=args.port,
        workers=args.workers)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        check_services(config)
        print(f"starting scheduler, DAG processor, triggerer, API server and {config.workers} Celery workers "
              f"(database {_database_name(config.database_url)}, broker {config.broker_url}) ...", flush=True)
        with AirflowCluster(config) as cluster:
            print(f"Airflow UI at {config.base_url}: user {ADMIN_USER}, password in {config.passwords_file}\n"
                  f"component logs in {config.log_dir}; Ctrl-C stops the cluster", flush=True)
            while True:
                cluster.raise_if_exited()
                time.sleep(2)
    except FindiningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
