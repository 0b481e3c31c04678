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
import logging
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

from devtools.airflow_client import AirflowClient, wait_for_dags, wait_for_runs
from devtools.local_airflow import (
    DEMO_BAKE_MINUTES,
    LOOPBACK,
    airflow_env,
    default_state_dirs,
    exit_on_stop_signals,
    refuse_unless_owned,
    reset_state_dir,
    run_ui,
    running_airflow,
)
from findining_mlops.errors import ConfigurationError

DEMO_START = date(2026, 10, 1)
DEMO_RPS = 25.0  # app traffic per endpoint while a canary bakes
DEMO_DAYS = 24
# days of a backfill analyzed at once (model_monitoring decides them in date order)
BACKFILL_PARALLEL_DAYS = 4
AB_MAX_DAYS = 14
AB_REQUESTS_PER_DAY = 600
# the control of the demo's A/B test: one tree with two leaves, a clearly weaker ranker
LIGHTWEIGHT_HYPERPARAMETERS = {"max_iter": 1, "max_leaf_nodes": 2}
DEMO_DAGS = ["model_retraining", "model_monitoring", "model_deployment", "ab_test", "ab_test_analysis"]
PHASES = 8


@dataclass(frozen=True)
class DemoDays:
    """The demo's calendar: app data from ``DEMO_START``, the bootstrap's training window, the
    day drift begins, the monitored days and the A/B test's first day."""

    days: int
    seed: int

    @property
    def end(self) -> date:
        return DEMO_START + timedelta(days=self.days - 1)

    @property
    def bootstrap_end(self) -> date:
        return DEMO_START + timedelta(days=min(13, self.days - 3))

    @property
    def drift_start(self) -> date:
        return DEMO_START + timedelta(days=(self.days * 7) // 10)

    @property
    def monitored(self) -> list[date]:
        return [self.bootstrap_end + timedelta(days=k) for k in range(1, (self.end - self.bootstrap_end).days + 1)]

    @property
    def ab_first(self) -> date:
        return self.end + timedelta(days=1)

    @cached_property
    def scenario(self):
        from findining_mlops.data.synthetic import ScenarioPlan

        return ScenarioPlan("new-district,slang-shift", self.drift_start)


@dataclass
class Phases:
    """The demo's numbered steps, each timed and announced as it starts and ends."""

    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @contextmanager
    def __call__(self, label: str, title: str):
        print(f"[{len(self.timings) + 1}/{PHASES}] {title}", flush=True)
        started = time.monotonic()
        yield
        self.timings[label] = time.monotonic() - started
        print(f"      {label}: {self.timings[label]:.0f} s (elapsed {_minutes(time.monotonic() - self.started)})",
              flush=True)


def demo_env(project: Path, port: int) -> dict[str, str]:
    """The local Airflow's environment on freshly emptied state directories (each checked before
    any is touched); the demo's own process uses the same store."""
    env = airflow_env(project, port)
    # only the demo's own runs: no scheduled run of today's real date (no data, so only alerts)
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    defaults = default_state_dirs(project)
    for name, default in defaults.items():
        refuse_unless_owned(name, Path(env[name]), default)
    for name in defaults:  # a demo starts from nothing, every time
        reset_state_dir(Path(env[name]))
    os.environ.update({k: env[k] for k in ("FINDINING_HOME", "FINDINING_BACKEND")})
    return env


def run_demo(project: Path, port: int, days: int, seed: int, replay_limit: int) -> int:
    from devtools.demo_summary import demo_summary
    from findining_mlops.platform.local import local_platform

    env = demo_env(project, port)
    platform = local_platform(Path(env["FINDINING_HOME"]), seed=seed)
    calendar, phase = DemoDays(days, seed), Phases()
    monitored = calendar.monitored
    with ExitStack() as airflow:
        client = start_airflow(airflow, env, platform, calendar, phase)
        with phase("bootstrap", f"bootstrap: model_retraining for every model on data up to {calendar.bootstrap_end}"):
            states = bootstrap(client, calendar.bootstrap_end)
        if any(s != "success" for s in states.values()):
            print(f"bootstrap failed: {states}; task logs under {Path(env['AIRFLOW_HOME']) / 'logs'}, alerts in "
                  f"{Path(env['FINDINING_HOME']) / 'alerts.log'}")
            return 1
        with phase("traffic replay", f"replay the app's traffic of {monitored[0]}..{monitored[-1]} against the "
                                     f"endpoints (up to {replay_limit} requests a day per model)"):
            traffic = replay_traffic(platform, monitored, replay_limit)
        with phase("monitoring backfill", f"backfill model_monitoring over {monitored[0]}..{monitored[-1]}"):
            backfill_monitoring(client, monitored)
        live: dict[str, dict] = {}
        # the A/B test's control is trained while the canaries bake (mostly waiting)
        ab_control = airflow.enter_context(ThreadPoolExecutor(1)).submit(
            prepare_ab_control, platform, calendar.ab_first, seed, calendar.scenario)
        with phase("canary rollouts",
                   "canary rollouts of the retrained versions (model_deployment) under live traffic"):
            canary_rollouts(client, platform, live)
        with phase("rollback drill",
                   "rollback drill: a sentiment version that fails 25 % of requests goes out as a canary"):
            rollback_drill(client, platform, live)
        with phase("A/B test", "A/B test: a one-tree recommendation version (control) against the live one "
                               "(treatment) over simulated days of app users"):
            ab_test_id = run_ab_test(client, platform, calendar.ab_first, ab_control.result())
        with phase("summary", "summary"):
            summary = demo_summary(platform, monitored, calendar.drift_start, traffic, live, phase.timings, ab_test_id)
    print(summary.text)
    print(f"\nThe demo took {_minutes(time.monotonic() - phase.started)}. To look around:\n"
          f"  summary page  file://{summary.html_path}\n"
          f"  Airflow UI    `make airflow`, then {env['AIRFLOW__API__BASE_URL']} (every run of the demo is there)")
    return 0


def start_airflow(stack: ExitStack, env: dict[str, str], platform, calendar: DemoDays,
                  phase: Callable) -> AirflowClient:
    """Airflow, stopped when ``stack`` closes, with the app data generated while it starts (mostly waiting)."""
    from findining_mlops.data.synthetic import generate

    title = (f"start Airflow (LocalExecutor, SQLite) at {env['AIRFLOW__API__BASE_URL']}, generating {calendar.days} "
             f"days of app data meanwhile ({DEMO_START}..{calendar.end}; {calendar.scenario.name} from "
             f"{calendar.drift_start})")
    with phase("start Airflow", title), ThreadPoolExecutor(1) as background:
        generated = background.submit(generate, platform.store, DEMO_START, calendar.days, calendar.seed,
                                      calendar.scenario)
        client, _ = stack.enter_context(running_airflow(env, Path(env["AIRFLOW_HOME"]) / "airflow.log"))
        wait_for_dags(client, DEMO_DAGS)
        generated.result()
    return client


def bootstrap(client: AirflowClient, data_end: date) -> dict[str, str]:
    """``model_retraining`` of every model on the data up to ``data_end``; the runs' end states."""
    from findining_mlops.config.catalog import model_names

    runs = [client.trigger("model_retraining", {"model_name": m, "reason": "bootstrap: first model of the demo",
                                                "data_end_date": data_end.isoformat()}) for m in model_names()]
    return client.wait("model_retraining", runs)


def replay_traffic(platform, days: list[date], limit: int) -> dict[str, dict]:
    """The app's logged requests of ``days`` against every model's endpoint; per model, sent and errors."""
    from devtools.traffic import replay_day
    from findining_mlops.config.catalog import get_model, model_names

    traffic: dict[str, dict] = {m: {"sent": 0, "errors": 0} for m in model_names()}

    def replay_model(model: str) -> None:  # day after day, as the app sent them
        for day in days:
            report = replay_day(platform, get_model(model), day, limit=limit)
            traffic[model]["sent"] += report.sent
            traffic[model]["errors"] += report.errors

    # the models side by side: each endpoint's model server is a process of its own
    with ThreadPoolExecutor(len(traffic)) as models:
        list(models.map(replay_model, traffic))
    return traffic


def backfill_monitoring(client: AirflowClient, days: list[date]) -> None:
    """``model_monitoring`` over ``days``, and the retrainings its decisions triggered."""
    client.backfill("model_monitoring", days[0], days[-1], BACKFILL_PARALLEL_DAYS)
    wait_for_runs(client, "model_monitoring", len(days))
    retrain_runs = [r["dag_run_id"] for r in client.runs("model_retraining")
                    if r["dag_run_id"].startswith("monitoring__")]
    client.wait("model_retraining", retrain_runs)


def canary_rollouts(client: AirflowClient, platform, live: dict) -> None:
    """Waits out the retrained versions' automatic rollouts while the app keeps calling every endpoint."""
    from findining_mlops.config.catalog import model_names

    rollouts = [r["dag_run_id"] for r in client.runs("model_deployment")]
    with background_traffic(platform, model_names(), DEMO_RPS, live):
        client.wait("model_deployment", rollouts)


def rollback_drill(client: AirflowClient, platform, live: dict) -> None:
    """A sentiment version that fails a quarter of its requests goes out as a canary and is rolled back."""
    from findining_mlops.serving.server.handlers import fault_drill

    drill = faulty_version(platform, "sentiment", {"error_rate": 0.25})
    # the endpoint this process serves honours the drill version's faults (production never does)
    with fault_drill(), background_traffic(platform, ["sentiment"], DEMO_RPS, live, label="drill"):
        client.wait("model_deployment", [client.trigger("model_deployment", {
            "model_name": "sentiment", "version": drill, "canary_percent": 20, "ramp": [20, 100],
            "bake_minutes": DEMO_BAKE_MINUTES})])


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
    from findining_mlops.store.layout import drill_artifact_key

    source = champion(platform, get_model(model))
    key = drill_artifact_key(model, source.version, list(faults))
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
    from findining_mlops.training.job import check_finished, training_spec
    from findining_mlops.training.snapshot import snapshot_training_data

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
