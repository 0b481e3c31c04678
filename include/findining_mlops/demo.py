"""``make demo``: the lifecycle on synthetic data, driven through a real Airflow.

Starts ``airflow standalone`` (scheduler, DAG processor, triggerer, API server;
LocalExecutor on SQLite) with the project's DAGs and the local backend, then, through the
REST API as an ML engineer would from the UI:

1. generates 30 days of app data in which drift (``new-district`` and ``slang-shift``)
   begins on day 22;
2. bootstraps both models with ``model_retraining`` on the first 14 days;
3. replays each later day's app traffic against the endpoints (data capture);
4. backfills ``model_monitoring`` over those days: quiet while the world is stable, a
   retraining soon after the drift begins;
5. rolls the retrained versions out as canaries under live traffic, and drills a rollback;
6. A/B-tests a deliberately small recommendation version (control) against the live one
   (treatment) over simulated days of app users (``ab_test``, ``ab_test_analysis``) until
   the analysis concludes and the winner goes to 100 %;
7. prints a summary, writes an HTML summary with the daily drift, performance and A/B
   confidence-interval plots, and stops Airflow.

``make airflow`` (``--ui-only``) starts the same Airflow and keeps it running.
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
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from pathlib import Path

log = logging.getLogger("findining.demo")
DEMO_START = date(2026, 10, 1)
DEMO_RPS = 25.0  # app traffic per endpoint while a canary bakes
DEMO_BAKE_MINUTES = 0.5
AB_MAX_DAYS = 14
AB_REQUESTS_PER_DAY = 600
# the control of the demo's A/B test: one tree with two leaves, a clearly weaker ranker
LIGHTWEIGHT_HYPERPARAMETERS = {"max_iter": 1, "max_leaf_nodes": 2}


def airflow_env(project: Path, port: int) -> dict[str, str]:
    """Airflow configured by environment: project-local state, the project's DAGs."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env.update(
        PATH=venv_bin + os.pathsep + env.get("PATH", ""),  # standalone spawns `airflow` by name
        AIRFLOW_HOME=env.get("AIRFLOW_HOME", str(project / ".airflow")),
        FINDINING_HOME=env.get("FINDINING_HOME", str(project / ".findining")),
        FINDINING_BACKEND=env.get("FINDINING_BACKEND", "local"),
        AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(project / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",  # a local, single-user UI
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://localhost:{port}",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10",
        # automatic canaries bake half a minute per step instead of ten
        FINDINING_DEPLOYMENT_DEFAULTS=env.get("FINDINING_DEPLOYMENT_DEFAULTS", f'{{"bake_minutes": {DEMO_BAKE_MINUTES}}}'),
    )
    return env


class AirflowClient:
    """The REST API (v2), used the way a person's script would use it."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._token: str | None = None

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(self.base_url + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def token(self) -> str:
        if self._token is None:
            self._token = self._request("GET", "/auth/token")["access_token"]
        return self._token

    def healthy(self) -> bool:
        try:
            health = self._request("GET", "/api/v2/monitor/health")
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return False
        return all(health.get(c, {}).get("status") == "healthy" for c in ("metadatabase", "scheduler", "dag_processor"))

    def dag_ready(self, dag_id: str) -> bool:
        try:
            return self._request("GET", f"/api/v2/dags/{dag_id}").get("dag_id") == dag_id
        except urllib.error.HTTPError:
            return False

    def backfill(self, dag_id: str, first: date, last: date) -> dict:
        return self._request("POST", "/api/v2/backfills", {
            "dag_id": dag_id, "from_date": f"{first}T00:00:00Z", "to_date": f"{last}T00:00:00Z",
            "max_active_runs": 1, "reprocess_behavior": "completed",
        })

    def runs(self, dag_id: str) -> list[dict]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def trigger(self, dag_id: str, conf: dict) -> str:
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}")["state"]

    def wait(self, dag_id: str, run_ids: list[str], timeout: float = 1800) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {run_id: self.run_state(dag_id, run_id) for run_id in run_ids}
            if all(s in ("success", "failed") for s in states.values()):
                return states
            time.sleep(3)
        raise TimeoutError(f"{dag_id} runs still {states} after {timeout:.0f} s")


@contextmanager
def running_airflow(env: dict[str, str], port: int, log_path: Path):
    """``airflow standalone`` in its own process group, stopped cleanly on exit."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    client = AirflowClient(f"http://localhost:{port}")
    try:
        deadline = time.monotonic() + 240
        while not client.healthy():
            if process.poll() is not None:
                raise RuntimeError(f"airflow standalone exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Airflow did not become healthy within 240 s; see {log_path}")
            time.sleep(2)
        yield client
    finally:
        print("stopping Airflow ...", flush=True)
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
    # standalone's children live in the same group; make sure none outlive it
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_for_dags(client: AirflowClient, dag_ids: list[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not all(client.dag_ready(d) for d in dag_ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"DAGs {dag_ids} were not parsed within {timeout:.0f} s")
        time.sleep(2)


def run_demo(project: Path, port: int, days: int, seed: int, replay_limit: int) -> int:
    from findining_mlops.catalog import get_model, model_names
    from findining_mlops.data.synthetic import ScenarioPlan, generate
    from findining_mlops.handlers import fault_drill
    from findining_mlops.platform.local import local_platform
    from findining_mlops.report import demo_summary
    from findining_mlops.traffic import replay_day

    env = airflow_env(project, port)
    home, airflow_home = Path(env["FINDINING_HOME"]), Path(env["AIRFLOW_HOME"])
    for state in (home, airflow_home):  # a demo starts from nothing, every time
        shutil.rmtree(state, ignore_errors=True)
    os.environ.update({k: env[k] for k in ("FINDINING_HOME", "FINDINING_BACKEND")})
    platform = local_platform(home, seed=seed)
    end = DEMO_START + timedelta(days=days - 1)
    bootstrap_end = DEMO_START + timedelta(days=min(13, days - 3))
    drift_start = DEMO_START + timedelta(days=(days * 7) // 10)
    scenario = ScenarioPlan("new-district,slang-shift", drift_start)
    timings: dict[str, float] = {}

    @contextmanager
    def phase(label: str, title: str):
        print(f"[{len(timings) + 1}/9] {title}", flush=True)
        started = time.monotonic()
        yield
        timings[label] = time.monotonic() - started

    with phase("generate data", f"generate {days} days of app data ({DEMO_START}..{end}; "
                                f"{scenario.name} from {drift_start})"):
        generate(platform.store, DEMO_START, days, seed, scenario)
    with ExitStack() as airflow:
        with phase("start Airflow", f"start Airflow (standalone, LocalExecutor, SQLite) at http://localhost:{port}"):
            client = airflow.enter_context(running_airflow(env, port, airflow_home / "standalone.log"))
            wait_for_dags(client, ["model_retraining", "model_monitoring", "model_deployment", "ab_test",
                                   "ab_test_analysis"])
        with phase("bootstrap", f"bootstrap: model_retraining for every model on data up to {bootstrap_end}"):
            runs = {client.trigger("model_retraining", {"model_name": m, "reason": "bootstrap: first model of the demo",
                                                        "data_end_date": bootstrap_end.isoformat()}): m
                    for m in model_names()}
            states = client.wait("model_retraining", list(runs))
        if any(s != "success" for s in states.values()):
            print(f"bootstrap failed: {states}; task logs under {airflow_home / 'logs'}, alerts in {home / 'alerts.log'}")
            return 1
        monitored = [bootstrap_end + timedelta(days=k) for k in range(1, (end - bootstrap_end).days + 1)]
        traffic: dict[str, dict] = {m: {"sent": 0, "errors": 0} for m in model_names()}
        with phase("traffic replay", f"replay the app's traffic of {monitored[0]}..{monitored[-1]} against the "
                                     f"endpoints (up to {replay_limit} requests a day per model)"):
            for day in monitored:
                for model in model_names():
                    report = replay_day(platform, get_model(model), day, limit=replay_limit)
                    traffic[model]["sent"] += report.sent
                    traffic[model]["errors"] += report.errors
        with phase("monitoring backfill", f"backfill model_monitoring over {monitored[0]}..{monitored[-1]}"):
            client.backfill("model_monitoring", monitored[0], monitored[-1])
            wait_for_runs(client, "model_monitoring", len(monitored))
            retrain_runs = [r["dag_run_id"] for r in client.runs("model_retraining")
                            if r["dag_run_id"].startswith("monitoring__")]
            client.wait("model_retraining", retrain_runs)
        live: dict[str, dict] = {}
        with phase("canary rollouts", "canary rollouts of the retrained versions (model_deployment) under live traffic"):
            rollouts = [r["dag_run_id"] for r in client.runs("model_deployment")]
            with background_traffic(platform, model_names(), DEMO_RPS, live):
                client.wait("model_deployment", rollouts)
        with phase("rollback drill", "rollback drill: a sentiment version that fails 25 % of requests goes out as a canary"):
            drill = faulty_version(platform, "sentiment", {"error_rate": 0.25})
            # the endpoint this process serves honours the drill version's faults (production never does)
            with fault_drill(), background_traffic(platform, ["sentiment"], DEMO_RPS, live, label="drill"):
                client.wait("model_deployment", [client.trigger("model_deployment", {
                    "model_name": "sentiment", "version": drill, "canary_percent": 20, "ramp": [20, 100],
                    "bake_minutes": DEMO_BAKE_MINUTES})])
        with phase("A/B test", "A/B test: a one-tree recommendation version (control) against the live one "
                               "(treatment) over simulated days of app users"):
            ab_test_id = run_ab_test(client, platform, end + timedelta(days=1), seed, scenario)
        with phase("summary", "summary"):
            summary = demo_summary(platform, monitored, drift_start, traffic, live, timings, ab_test_id)
    print(summary.text)
    print(f"HTML summary: {summary.html_path}")
    return 0


@contextmanager
def background_traffic(platform, models: list[str], rps: float, reports: dict, label: str = "rollout"):
    """The app keeps calling the endpoints (one generator per model) while a rollout bakes."""
    import threading

    from findining_mlops.catalog import get_model
    from findining_mlops.traffic import generate_traffic

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
    from findining_mlops.catalog import get_model
    from findining_mlops.handlers import inject_faults
    from findining_mlops.retraining import champion

    source = champion(platform, get_model(model))
    key = f"drills/{model}/v{source.version}-{'-'.join(sorted(faults))}/model.tar.gz"
    target = platform.store.path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    inject_faults(platform.store.path(source.artifact_key), target, faults)
    version = platform.registry.register(
        model, key, status="Approved", metrics=source.metrics, lineage={"drill_of": source.version, "faults": faults},
        reason=f"rollback drill: v{source.version} with {faults}", idempotency_key=key)
    return version.version


def run_ab_test(client: AirflowClient, platform, first: date, seed: int, scenario) -> str | None:
    """Creates the test from the ``ab_test`` form, then day by day: the app's users (each in
    their own arm) and the daily analysis, until the test concludes and its winner is deployed."""
    from findining_mlops.catalog import get_model
    from findining_mlops.client import MLService
    from findining_mlops.data.synthetic import generate
    from findining_mlops.platform.ports import RUNNING
    from findining_mlops.retraining import champion
    from findining_mlops.traffic import experiment_day

    spec = get_model("recommendation")
    generate(platform.store, first, AB_MAX_DAYS, seed, scenario)  # the same world, carried on
    control = lightweight_version(platform, spec, first - timedelta(days=1))
    treatment = champion(platform, spec).version
    run = client.trigger("ab_test", {
        "test_name": f"recommendation_v{control}_vs_v{treatment}", "model_name": spec.name,
        "control_version": control, "treatment_version": treatment, "traffic_split": 50,
        "duration_days": AB_MAX_DAYS, "success_metrics": ["recommendation_accuracy", "user_satisfaction"],
        "guardrail_metrics": [], "alpha": 0.05, "start_date": first.isoformat()})
    if client.wait("ab_test", [run])[run] != "success":
        print(f"ab_test run {run} failed; see its task logs")
        return None
    (test,) = [t for t in platform.experiments.list_tests(RUNNING) if t.model_name == spec.name]
    service = MLService(platform, refresh_s=0)
    for offset in range(AB_MAX_DAYS):
        day = first + timedelta(days=offset)
        users = experiment_day(service, spec, day, limit=AB_REQUESTS_PER_DAY)
        client.backfill("ab_test_analysis", day, day)
        state = wait_for_backfill_day(client, "ab_test_analysis", day)
        status = platform.experiments.get(test.test_id)
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
    from findining_mlops.retraining import check_finished, snapshot_training_data, training_spec

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


def wait_for_backfill_day(client: AirflowClient, dag_id: str, day: date, timeout: float = 900) -> str:
    """The state of the backfill run of ``day`` once it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in client.runs(dag_id):
            if (run["run_type"] == "backfill" and str(run.get("data_interval_start", "")).startswith(day.isoformat())
                    and run["state"] in ("success", "failed")):
                return run["state"]
        time.sleep(3)
    raise TimeoutError(f"{dag_id}: the backfill run of {day} did not finish within {timeout:.0f} s")


def wait_for_runs(client: AirflowClient, dag_id: str, expected: int, timeout: float = 3600) -> None:
    """Waits until ``expected`` runs of the DAG exist and all of them are finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.runs(dag_id)
        finished = [r for r in runs if r["state"] in ("success", "failed")]
        if len(runs) >= expected and len(finished) == len(runs):
            failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
            if failed:
                print(f"warning: {dag_id} runs failed: {failed}")
            return
        time.sleep(5)
    raise TimeoutError(f"{dag_id}: runs did not finish within {timeout:.0f} s")


def run_ui(project: Path, port: int) -> int:
    env = airflow_env(project, port)
    print(f"Airflow UI at http://localhost:{port} (FINDINING_HOME={env['FINDINING_HOME']}); Ctrl-C stops it")
    with running_airflow(env, port, Path(env["AIRFLOW_HOME"]) / "standalone.log"):
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    parser.add_argument("--port", type=int, default=int(os.environ.get("FINDINING_AIRFLOW_PORT", "8080")))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--replay-limit", type=int, default=300, help="requests replayed per model and day")
    parser.add_argument("--ui-only", action="store_true", help="start Airflow and keep it running")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    project = args.project_dir.resolve()
    if args.ui_only:
        return run_ui(project, args.port)
    return run_demo(project, args.port, args.days, args.seed, args.replay_limit)


if __name__ == "__main__":
    sys.exit(main())
