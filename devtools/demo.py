"""``make demo``: the lifecycle on synthetic data, driven through a real Airflow.

Starts Airflow (scheduler, DAG processor, triggerer, API server; LocalExecutor on SQLite)
with the project's DAGs and the local backend, then, through the REST API as an ML engineer
would from the UI:

1. generates 24 days of app data in which drift (``new-district`` and ``slang-shift``)
   begins on day 17, while Airflow starts;
2. bootstraps every model of the catalog with ``model_retraining`` on the first 14 days;
3. replays each later day's app traffic against the endpoints (data capture), the models
   side by side;
4. backfills ``model_monitoring`` over those days, several days at once: quiet while the
   world is stable, a retraining soon after the drift begins;
5. rolls the retrained versions out as canaries under live traffic, and drills a rollback;
6. A/B-tests a deliberately small recommendation version (control) against the live one
   (treatment) over simulated days of app users (``ab_test``, ``ab_test_analysis``) until
   the analysis concludes and the winner goes to 100 %;
7. prints a summary, writes an HTML summary with the daily drift, performance and A/B
   confidence-interval plots, and stops Airflow.

``make airflow`` (``--ui-only``) starts the same Airflow and keeps it running.

The API server listens on 127.0.0.1 unless ``--host`` says otherwise. SIGTERM, SIGINT or SIGHUP,
or a demo that fails half-way, stop every process the command started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from datetime import date, timedelta
from pathlib import Path

import psutil

from devtools.airflow_client import AirflowClient, wait_for_dags, wait_for_runs
from findining_mlops.errors import ConfigurationError

log = logging.getLogger("findining.demo")
DEMO_START = date(2026, 10, 1)
DEMO_RPS = 25.0  # app traffic per endpoint while a canary bakes
DEMO_BAKE_MINUTES = 0.25
# the automatic canaries of the retrained versions: one bake at 20 %, then all of the traffic
DEMO_DEPLOYMENT = {"bake_minutes": DEMO_BAKE_MINUTES, "canary_percent": 20, "ramp": [20, 100]}
DEMO_DAYS = 24
# days of a backfill analyzed at once (model_monitoring decides them in date order)
BACKFILL_PARALLEL_DAYS = 4
AB_MAX_DAYS = 14
AB_REQUESTS_PER_DAY = 600
# the control of the demo's A/B test: one tree with two leaves, a clearly weaker ranker
LIGHTWEIGHT_HYPERPARAMETERS = {"max_iter": 1, "max_leaf_nodes": 2}

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


def run_demo(project: Path, port: int, days: int, seed: int, replay_limit: int) -> int:
    from devtools.traffic import replay_day
    from findining_mlops.config.catalog import get_model, model_names
    from findining_mlops.data.synthetic import ScenarioPlan, generate
    from findining_mlops.platform.local import local_platform
    from findining_mlops.reporting.summary import demo_summary
    from findining_mlops.serving.server.handlers import fault_drill

    env = airflow_env(project, port)
    # only the demo's own runs: no scheduled run of today's real date (no data, so only alerts)
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    defaults = default_state_dirs(project)
    for name, default in defaults.items():  # all checked before any is touched
        refuse_unless_owned(name, Path(env[name]), default)
    for name in defaults:  # a demo starts from nothing, every time
        reset_state_dir(Path(env[name]))
    home, airflow_home = Path(env["FINDINING_HOME"]), Path(env["AIRFLOW_HOME"])
    os.environ.update({k: env[k] for k in ("FINDINING_HOME", "FINDINING_BACKEND")})
    platform = local_platform(home, seed=seed)
    end = DEMO_START + timedelta(days=days - 1)
    bootstrap_end = DEMO_START + timedelta(days=min(13, days - 3))
    drift_start = DEMO_START + timedelta(days=(days * 7) // 10)
    scenario = ScenarioPlan("new-district,slang-shift", drift_start)
    timings: dict[str, float] = {}
    demo_started = time.monotonic()

    @contextmanager
    def phase(label: str, title: str):
        print(f"[{len(timings) + 1}/8] {title}", flush=True)
        started = time.monotonic()
        yield
        timings[label] = time.monotonic() - started
        print(f"      {label}: {timings[label]:.0f} s (elapsed {_minutes(time.monotonic() - demo_started)})",
              flush=True)

    with ExitStack() as airflow:
        title = (f"start Airflow (LocalExecutor, SQLite) at {env['AIRFLOW__API__BASE_URL']}, generating {days} days "
                 f"of app data meanwhile ({DEMO_START}..{end}; {scenario.name} from {drift_start})")
        # Airflow's start-up is mostly waiting
        with phase("start Airflow", title), ThreadPoolExecutor(1) as background:
            generated = background.submit(generate, platform.store, DEMO_START, days, seed, scenario)
            client, _ = airflow.enter_context(running_airflow(env, airflow_home / "airflow.log"))
            wait_for_dags(client, ["model_retraining", "model_monitoring", "model_deployment", "ab_test",
                                   "ab_test_analysis"])
            generated.result()
        with phase("bootstrap", f"bootstrap: model_retraining for every model on data up to {bootstrap_end}"):
            runs = {client.trigger("model_retraining", {"model_name": m, "reason": "bootstrap: first model of the demo",
                                                        "data_end_date": bootstrap_end.isoformat()}): m
                    for m in model_names()}
            states = client.wait("model_retraining", list(runs))
        if any(s != "success" for s in states.values()):
            print(f"bootstrap failed: {states}; task logs under {airflow_home / 'logs'}, alerts in "
                  f"{home / 'alerts.log'}")
            return 1
        monitored = [bootstrap_end + timedelta(days=k) for k in range(1, (end - bootstrap_end).days + 1)]
        traffic: dict[str, dict] = {m: {"sent": 0, "errors": 0} for m in model_names()}
        with phase("traffic replay", f"replay the app's traffic of {monitored[0]}..{monitored[-1]} against the "
                                     f"endpoints (up to {replay_limit} requests a day per model)"):
            def replay_model(model: str) -> None:  # day after day, as the app sent them
                for day in monitored:
                    report = replay_day(platform, get_model(model), day, limit=replay_limit)
                    traffic[model]["sent"] += report.sent
                    traffic[model]["errors"] += report.errors

            # the models side by side: each endpoint's model server is a process of its own
            with ThreadPoolExecutor(len(traffic)) as models:
                list(models.map(replay_model, traffic))
        with phase("monitoring backfill", f"backfill model_monitoring over {monitored[0]}..{monitored[-1]}"):
            client.backfill("model_monitoring", monitored[0], monitored[-1], BACKFILL_PARALLEL_DAYS)
            wait_for_runs(client, "model_monitoring", len(monitored))
            retrain_runs = [r["dag_run_id"] for r in client.runs("model_retraining")
                            if r["dag_run_id"].startswith("monitoring__")]
            client.wait("model_retraining", retrain_runs)
        live: dict[str, dict] = {}
        # the A/B test's control is trained while the canaries bake (mostly waiting)
        ab_first = end + timedelta(days=1)
        ab_background = airflow.enter_context(ThreadPoolExecutor(1))
        ab_control = ab_background.submit(prepare_ab_control, platform, ab_first, seed, scenario)
        with phase("canary rollouts",
                   "canary rollouts of the retrained versions (model_deployment) under live traffic"):
            rollouts = [r["dag_run_id"] for r in client.runs("model_deployment")]
            with background_traffic(platform, model_names(), DEMO_RPS, live):
                client.wait("model_deployment", rollouts)
        with phase("rollback drill",
                   "rollback drill: a sentiment version that fails 25 % of requests goes out as a canary"):
            drill = faulty_version(platform, "sentiment", {"error_rate": 0.25})
            # the endpoint this process serves honours the drill version's faults (production never does)
            with fault_drill(), background_traffic(platform, ["sentiment"], DEMO_RPS, live, label="drill"):
                client.wait("model_deployment", [client.trigger("model_deployment", {
                    "model_name": "sentiment", "version": drill, "canary_percent": 20, "ramp": [20, 100],
                    "bake_minutes": DEMO_BAKE_MINUTES})])
        with phase("A/B test", "A/B test: a one-tree recommendation version (control) against the live one "
                               "(treatment) over simulated days of app users"):
            ab_test_id = run_ab_test(client, platform, ab_first, ab_control.result())
        with phase("summary", "summary"):
            summary = demo_summary(platform, monitored, drift_start, traffic, live, timings, ab_test_id)
    print(summary.text)
    print(f"\nThe demo took {_minutes(time.monotonic() - demo_started)}. To look around:\n"
          f"  summary page  file://{summary.html_path}\n"
          f"  Airflow UI    `make airflow`, then {env['AIRFLOW__API__BASE_URL']} (every run of the demo is there)")
    return 0


def _minutes(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


@contextmanager
def background_traffic(platform, models: list[str], rps: float, reports: dict, label: str = "rollout"):
    """The app keeps calling the endpoints (one generator per model) while a rollout bakes."""
    import threading

    from devtools.traffic import generate_traffic
    from findining_mlops.config.catalog import get_model

    stop = threading.Event()

    def run(model: str) -> None:
        report = generate_traffic(platform, get_model(model), rps, duration_s=3600, seed=len(reports), stop=stop)
        reports[f"{model} ({label})"] = report.summary()

    threads = [threading.Thread(target=run, args=(m,), daemon=True) for m in models]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def faulty_version(platform, model: str, faults: dict) -> int:
    """Registers a copy of the model's live version that misbehaves on purpose."""
    from findining_mlops.config.catalog import get_model
    from findining_mlops.registry.variants import champion
    from findining_mlops.serving.server.handlers import inject_faults

    source = champion(platform, get_model(model))
    key = f"drills/{model}/v{source.version}-{'-'.join(sorted(faults))}/model.tar.gz"
    target = platform.store.path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    inject_faults(platform.store.path(source.artifact_key), target, faults)
    version = platform.registry.register(
        model, key, status="Approved", metrics=source.metrics, lineage={"drill_of": source.version, "faults": faults},
        reason=f"rollback drill: v{source.version} with {faults}", idempotency_key=key)
    return version.version


def prepare_ab_control(platform, first: date, seed: int, scenario) -> int:
    """The app data of the A/B test's days (the same world, carried on from ``first``) and its
    control: a lightweight recommendation version trained on the data up to the day before."""
    from findining_mlops.config.catalog import get_model
    from findining_mlops.data.synthetic import generate

    generate(platform.store, first, AB_MAX_DAYS, seed, scenario)
    return lightweight_version(platform, get_model("recommendation"), first - timedelta(days=1))


def run_ab_test(client: AirflowClient, platform, first: date, control: int) -> str | None:
    """Creates the test of ``control`` against the live recommendation version from the ``ab_test``
    form, then day by day: the app's users (each in their own arm) and the daily analysis, until
    the test concludes and its winner is deployed."""
    from devtools.traffic import abtest_day
    from findining_mlops.config.catalog import get_model
    from findining_mlops.platform.ports import RUNNING
    from findining_mlops.registry.variants import champion
    from findining_mlops.serving.client.service import MLService

    spec = get_model("recommendation")
    treatment = champion(platform, spec).version
    run = client.trigger("ab_test", {
        "test_name": f"recommendation_v{control}_vs_v{treatment}", "model_name": spec.name,
        "control_version": control, "treatment_version": treatment, "traffic_split": 50,
        "duration_days": AB_MAX_DAYS, "success_metrics": ["recommendation_accuracy", "user_satisfaction"],
        "guardrail_metrics": [], "alpha": 0.05, "start_date": first.isoformat()})
    if client.wait("ab_test", [run])[run] != "success":
        print(f"ab_test run {run} failed; see its task logs")
        return None
    (test,) = [t for t in platform.abtests.list_tests(RUNNING) if t.model_name == spec.name]
    service = MLService(platform, refresh_s=0)
    for offset in range(AB_MAX_DAYS):
        day = first + timedelta(days=offset)
        users = abtest_day(service, spec, day, limit=AB_REQUESTS_PER_DAY)
        run = client.trigger_day("ab_test_analysis", day)
        state = client.wait("ab_test_analysis", [run])[run]
        status = platform.abtests.get(test.test_id)
        print(f"  {day}: {users.requests} requests {users.per_arm}, analysis {state}, test {status.status}"
              f"{' (' + status.decision + ')' if status.decision else ''}", flush=True)
        if status.status != RUNNING or state != "success":
            break
    promotion = f"abtest__{test.test_id}"
    if any(r["dag_run_id"] == promotion for r in client.runs("model_deployment")):
        client.wait("model_deployment", [promotion])
    return test.test_id


def lightweight_version(platform, spec, data_end: date) -> int:
    """Trains (a real training job) and approves a deliberately small version of the model,
    as a team would ship a cheap ranker, for the A/B test to measure against."""
    from findining_mlops.platform.ports import APPROVED, IN_PROGRESS
    from findining_mlops.training.retraining import check_finished, snapshot_training_data, training_spec

    job_name = f"{spec.name}-lightweight-{data_end:%Y%m%d}"
    snapshot = snapshot_training_data(platform, spec, job_name, data_end)
    job = platform.training.start(training_spec(spec, snapshot, LIGHTWEIGHT_HYPERPARAMETERS))
    while job.status == IN_PROGRESS:
        time.sleep(1)
        job = platform.training.describe(job_name)
    job = check_finished(job)
    version = platform.registry.register(
        spec.name, job.model_artifact_key, status=APPROVED, metrics=job.metrics,
        lineage={"training_job": job_name, "hyperparameters": LIGHTWEIGHT_HYPERPARAMETERS},
        reason="demo: a lightweight ranker (one tree, two leaves) to A/B-test against", idempotency_key=job_name)
    return version.version


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    parser.add_argument("--port", type=int, default=int(os.environ.get("FINDINING_AIRFLOW_PORT", "8080")))
    parser.add_argument("--host", default=os.environ.get("FINDINING_AIRFLOW_HOST", LOOPBACK),
                        help="address the UI listens on with --ui-only (default 127.0.0.1: this machine only)")
    parser.add_argument("--days", type=int, default=DEMO_DAYS)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--replay-limit", type=int, default=300, help="requests replayed per model and day")
    parser.add_argument("--ui-only", action="store_true", help="start Airflow and keep it running")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    exit_on_stop_signals()
    project = args.project_dir.resolve()
    try:
        if args.ui_only:
            return run_ui(project, args.port, args.host)
        return run_demo(project, args.port, args.days, args.seed, args.replay_limit)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
