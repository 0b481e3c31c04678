"""Test support: small model catalogs, DAGs from the DagBag, and a simulated production
history (bootstrap a model, replay the app's daily traffic, run the daily check)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import time
from contextlib import contextmanager, nullcontext
from datetime import date, timedelta
from pathlib import Path

from devtools.traffic import replay_day
from findining_mlops.config.catalog import ModelSpec
from findining_mlops.monitoring import analysis as monitoring
from findining_mlops.platform.ports import COMPLETED, ModelCheckTask, Platform, TrainingJob, TrainingJobSpec
from findining_mlops.registry.baselines import store_baseline
from findining_mlops.registry.variants import bootstrap_deploy
from findining_mlops.store.layout import training_output_key
from findining_mlops.training import evaluate
from findining_mlops.training.gate import quality_gate
from findining_mlops.training.job import check_finished, training_spec
from findining_mlops.training.register import register_version
from findining_mlops.training.snapshot import snapshot_training_data

DAGS = Path(__file__).resolve().parents[2] / "dags"
# small, fast versions of the shipped models; tests override what they exercise
SENTIMENT = {
    "package": "findining_mlops.models.sentiment", "dataset": "reviews", "primary_metric": "macro_f1",
    "min_primary_metric": 0.6, "max_regression": 0.01, "training_window_days": 8, "holdout_days": 2,
    "validation_days": 1, "hyperparameters": {"c": 4.0, "max_features": 20000},
    "ab_metrics": {"sentiment_accuracy": {"kind": "binary"},
                   "model_latency_ms": {"kind": "continuous", "direction": "lower_is_better"}},
}
RECOMMENDATION = {
    "package": "findining_mlops.models.recommendation", "dataset": "interactions", "primary_metric": "ndcg_at_10",
    "min_primary_metric": 0.3, "max_regression": 0.01, "training_window_days": 8, "holdout_days": 2,
    "validation_days": 1, "hyperparameters": {"max_iter": 80, "learning_rate": 0.1, "max_leaf_nodes": 15},
    "ab_metrics": {"recommendation_accuracy": {"kind": "continuous"}, "user_satisfaction": {"kind": "continuous"}},
}


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # strings, numbers, booleans and lists are spelled the same in TOML


def write_catalog(path: Path, models: dict[str, dict]) -> Path:
    path.write_text("\n".join(
        f"[models.{name}]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in spec.items()) + "\n"
        for name, spec in models.items()))
    return path


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def reschedules(run, task_id: str) -> int:
    """How often the task of a ``dag.test`` run gave its worker slot back (reschedule mode)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.count()).select_from(TaskReschedule).join(
            TaskInstance, TaskReschedule.ti_id == TaskInstance.id).where(
            TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id, TaskInstance.task_id == task_id))


def run_training_job(platform: Platform, training: TrainingJobSpec) -> TrainingJob:
    """Starts the job and waits for its end, as the training operator does."""
    platform.training.start(training)
    deadline = time.monotonic() + 300
    while platform.training.describe(training.name).status == "InProgress":
        assert time.monotonic() < deadline, f"training job {training.name} did not finish"
        time.sleep(0.2)
    return check_finished(platform.training.describe(training.name))


class TrainedJobs:
    """The training jobs this test session has run, by what they were trained on.

    The integration tests bootstrap the same small models on the same generated data many
    times over, and a real training job takes seconds. A job whose entry point,
    hyperparameters and data (the snapshot's fingerprint) match one run earlier in the
    session gets a copy of that job's ``model.tar.gz`` and metrics where the job would have
    put them, instead of a second, identical run. In the same way, the evaluation's model
    checks (a child process each, loading a model to score the holdout) give the result of
    an earlier check of the same files on the same holdout (``checks``). Everything else
    (the gate, registration, the baseline, deployment) still runs in the test's own platform.
    """

    def __init__(self, root: Path):
        self.root = root

    def run(self, platform: Platform, training: TrainingJobSpec, fingerprint: str) -> TrainingJob:
        recipe = json.dumps([training.entry_point, training.hyperparameters, fingerprint], sort_keys=True)
        done = self.root / hashlib.sha256(recipe.encode()).hexdigest()[:16]
        if done.exists():
            key = training_output_key(training.output_prefix, training.name)
            platform.store.write_bytes(key, (done / "model.tar.gz").read_bytes())
            return TrainingJob(training.name, COMPLETED, key, metrics=json.loads((done / "metrics.json").read_text()))
        job = run_training_job(platform, training)
        staging = self.root / f"{done.name}.partial"  # a job cut short is never taken as done
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / "model.tar.gz").write_bytes(platform.store.read_bytes(job.model_artifact_key))
        (staging / "metrics.json").write_text(json.dumps(job.metrics))
        staging.rename(done)
        return job

    @contextmanager
    def checks(self, platform: Platform):
        """Within the block, the platform's model checks are answered from this session's earlier
        checks of the same artifact bytes, holdout and request."""
        real = platform.checks
        root = self.root

        class Remembered:
            def run(self, task: ModelCheckTask, time_limit_s: float) -> dict:
                store = platform.store
                digest = hashlib.sha256(json.dumps([task.package, task.smoke_request], sort_keys=True).encode())
                digest.update(store.read_bytes(task.artifact_key, task.artifact_version_id or ""))
                for key in sorted(store.list_keys(task.holdout_prefix.rstrip("/") + "/")):
                    digest.update(store.read_bytes(key))
                result = root / f"check-{digest.hexdigest()[:16]}.json"
                if not result.exists():
                    staging = result.with_suffix(".partial")
                    staging.write_text(json.dumps(real.run(task, time_limit_s)))
                    staging.rename(result)
                return json.loads(result.read_text())

        platform.checks = Remembered()
        try:
            yield
        finally:
            platform.checks = real


def bootstrap(platform: Platform, spec: ModelSpec, end_day: date, job_name: str, reason: str = "bootstrap",
              trained: TrainedJobs | None = None):
    """What model_retraining does, in one synchronous call; with ``trained``, a job (or a model
    check) this session already ran on the same data is not run again."""
    snapshot = snapshot_training_data(platform, spec, job_name, end_day)
    training = training_spec(spec, snapshot)
    job = trained.run(platform, training, snapshot.fingerprint) if trained else run_training_job(platform, training)
    with trained.checks(platform) if trained else nullcontext():
        evaluation = evaluate.evaluate_candidates(platform, spec, job, snapshot)
    gate = quality_gate(spec, evaluation)
    version = register_version(platform, spec, job, snapshot, evaluation, gate, reason, "test")
    store_baseline(platform, version)
    bootstrap_deploy(platform, spec, version)
    return version


def monitor_days(platform: Platform, spec: ModelSpec, first: date, days: int, replay: bool = True) -> list[dict]:
    decisions = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if replay:
            replay_day(platform, spec, day)
        analysis = monitoring.analyze_day(platform, spec, day)
        decisions.append(monitoring.decide(platform, spec, day, analysis))
    return decisions


def read_alerts(home: Path) -> list[dict]:
    """What the local backend published to the alerts topic."""
    path = home / "alerts.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def tarball(files: dict[str, bytes]) -> bytes:
    """A model.tar.gz holding exactly these files, e.g. a broken upload."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
