"""A local Airflow for the demo, ``make airflow`` and the benches: Airflow's components as
processes of this machine, with the project's DAGs and plugins and the local backend.

The components (scheduler, DAG processor, triggerer, API server; LocalExecutor on SQLite) are
what ``airflow standalone`` runs, started and stopped as one: SIGTERM, SIGINT or SIGHUP, or a
caller that fails half-way, stop every process this module started. The API server listens on
127.0.0.1 unless the caller says otherwise. State lives in project-local directories that the
demo may empty only when it owns them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil

from devtools.airflow_client import AirflowClient
from findining_mlops.errors import ConfigurationError

DEMO_BAKE_MINUTES = 0.25
# the automatic canaries of the retrained versions: one bake at 20 %, then all of the traffic
DEMO_DEPLOYMENT = {"bake_minutes": DEMO_BAKE_MINUTES, "canary_percent": 20, "ramp": [20, 100]}
LOOPBACK = "127.0.0.1"
# What `airflow standalone` runs, minus the log servers it would open on every interface
# (ports 8793/8794, no setting for their address): with one machine and one AIRFLOW_HOME the
# API server reads the task logs from the local folder.
AIRFLOW_COMPONENTS = {
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
    "api-server": ["api-server"],
}
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# as `docker compose stop` (10 s): a task cut short is retried by its next run or attempt
STOP_GRACE_S = 10
# written into a state directory the demo created, so that it may empty it again next time
OWNER_MARKER = ".created-by-findining-demo"


def default_state_dirs(project: Path) -> dict[str, Path]:
    return {"AIRFLOW_HOME": project / ".airflow", "FINDINING_HOME": project / ".findining"}


def airflow_env(project: Path, port: int, host: str = LOOPBACK) -> dict[str, str]:
    """Airflow configured by environment: project-local state, the project's DAGs, the API
    server on ``host`` (everyone is admin only while that is this machine's loopback)."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    local = _is_loopback(host)
    env.update(
        PATH=venv_bin + os.pathsep + env.get("PATH", ""),  # the venv's tools first, as when it is activated
        **{name: env.get(name, str(default)) for name, default in default_state_dirs(project).items()},
        FINDINING_BACKEND=env.get("FINDINING_BACKEND", "local"),
        AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(project / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        # LocalExecutor, its task processes forked with pandas, scikit-learn, Evidently ... imported
        AIRFLOW__CORE__EXECUTOR="findining_airflow.executors.PreloadedLocalExecutor",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS="findining_airflow.metadata_db.SQLITE_CONNECT_ARGS",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC="findining_airflow.metadata_db.SQLITE_CONNECT_ARGS",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=str(local),  # a local, single-user UI
        AIRFLOW__API__HOST=host,
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://{_url_host(host)}:{port}",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10",
        # one thread per task process: on a small machine the parallel tasks share the cores, and
        # numpy's and scikit-learn's thread pools in each of them would only fight over them
        OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"),
        # automatic canaries bake a quarter of a minute per step instead of ten, in two steps instead of three
        FINDINING_DEPLOYMENT_DEFAULTS=env.get("FINDINING_DEPLOYMENT_DEFAULTS", json.dumps(DEMO_DEPLOYMENT)),
    )
    return env


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on now, for an Airflow beside others."""
    import socket

    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _is_loopback(host: str) -> bool:
    ip = _ip(host)
    return host == "localhost" or ip is not None and ip.is_loopback


def _url_host(host: str) -> str:
    """How this machine's components and the demo reach an API server listening on ``host``."""
    ip = _ip(host)
    if host == "" or ip is not None and ip.is_unspecified:  # every interface, this machine's loopback among them
        return LOOPBACK
    return f"[{host}]" if ip is not None and ip.version == 6 else host


def _ip(host: str):
    import ipaddress

    try:
        return ipaddress.ip_address(host)
    except ValueError:  # a host name
        return None


def refuse_unless_owned(name: str, path: Path, default: Path) -> None:
    """The demo may empty only a state directory it owns: its default one in the project, one it
    created itself (marked), or an empty one. Anything else, say an ``AIRFLOW_HOME`` exported for
    another Airflow, is refused with what to do instead."""
    owned = (path.resolve() == default.resolve() or (path / OWNER_MARKER).is_file()
             or (path.is_dir() and not any(path.iterdir())))
    if path.exists() and not owned:
        raise ConfigurationError(
            f"refusing to empty {name}={path}: the demo starts from an empty directory and this one holds files "
            f"it did not create. Unset {name} (the demo then uses {default}), point it at a new or empty "
            f"directory, or empty it yourself if nothing in it is needed.")


def reset_state_dir(path: Path) -> None:
    """Empties a state directory (``refuse_unless_owned`` first) and marks it as the demo's."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    (path / OWNER_MARKER).write_text("Created by `make demo`, which empties this directory on its next run.\n")


@contextmanager
def running_airflow(env: dict[str, str], log_path: Path):
    """Airflow's components, stopped on exit whatever ends the block; yields the API client and
    the component processes."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    commands = {name: [sys.executable, "-m", "airflow", *arguments] for name, arguments in AIRFLOW_COMPONENTS.items()}
    with log_path.open("ab") as output, started(commands, env, output) as processes:
        def check_components() -> None:
            if exited := exited_components(processes):
                raise RuntimeError(f"Airflow's {exited} exited; see {log_path}")

        # every wait on the API also checks that the components still run, instead of waiting out its timeout
        client = AirflowClient(env["AIRFLOW__API__BASE_URL"], watchdog=check_components)
        deadline = time.monotonic() + 240
        while not client.healthy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Airflow did not become healthy within 240 s; see {log_path}")
            client.between_polls()
        yield client, processes


@contextmanager
def started(commands: dict[str, list[str]], env: dict[str, str], output):
    """Runs each command in a session of its own and stops them all, with everything they
    started, when the block ends (see ``stop``)."""
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT,
                                               start_new_session=True)
        yield processes
    finally:
        if processes:
            print(f"stopping {', '.join(processes)} ...", flush=True)
        stop(list(processes.values()))


def exited_components(processes: dict[str, subprocess.Popen]) -> str:
    """The components that have exited, with their exit codes ("" while all run)."""
    return ", ".join(f"{name} (exit code {p.returncode})" for name, p in processes.items() if p.poll() is not None)


def stop(processes: list[subprocess.Popen]) -> None:
    """Stops ``processes`` (each a session leader) and everything they started.

    SIGTERM to each one's process group lets the components shut down cleanly; whatever is still
    left after that is killed: every process in their sessions (task processes that Airflow's
    supervisor put in process groups of their own, orphans of components that already exited)
    and every descendant they had when the stop began (one that started a session of its own).
    """
    sessions = {p.pid for p in processes}
    descendants = [child for p in processes for child in _children(p.pid)]
    with _signals_ignored():  # a second Ctrl-C must not cut the shutdown short
        for process in processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0))
        left = {proc for proc in psutil.process_iter() if _session_of(proc.pid) in sessions}
        left |= {proc for proc in descendants if proc.is_running()}  # is_running: not a reused pid
        for proc in left:
            with suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(list(left), timeout=STOP_GRACE_S)
        for process in processes:
            process.wait()


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


@contextmanager
def _signals_ignored():
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def exit_on_stop_signals() -> None:
    """SIGTERM, SIGINT and SIGHUP end the command the way an error does: every ``finally`` runs,
    so the Airflow it started is stopped, and the exit code says which signal it was."""
    def exit_with(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, exit_with)


def run_ui(project: Path, port: int, host: str) -> int:
    env = airflow_env(project, port, host)
    log_path = Path(env["AIRFLOW_HOME"]) / "airflow.log"
    with running_airflow(env, log_path) as (_, processes):
        print(f"Airflow UI at {env['AIRFLOW__API__BASE_URL']} (listening on {host}, FINDINING_HOME="
              f"{env['FINDINING_HOME']}); Ctrl-C stops it", flush=True)
        while not (exited := exited_components(processes)):
            time.sleep(2)
    print(f"Airflow's {exited} exited; see {log_path}", file=sys.stderr)
    return 1
