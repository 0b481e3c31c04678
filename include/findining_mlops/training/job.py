"""The training job of a retraining: a name derived from the DAG run, so a retried task re-attaches to its own
job instead of training twice; the job's spec from a snapshot; and the check that it finished."""

from __future__ import annotations

import hashlib

from findining_mlops.config.catalog import ModelSpec, resource_prefix
from findining_mlops.errors import TrainingJobFailed
from findining_mlops.platform.ports import COMPLETED, FAILED, TrainingJob, TrainingJobSpec
from findining_mlops.store.layout import training_prefix
from findining_mlops.training.snapshot import Snapshot

MAX_JOB_NAME = 63  # SageMaker's limit


def training_job_name(model_name: str, dag_id: str, run_id: str) -> str:
    """Deterministic per DAG run and environment (environments sharing an account run the same
    DAG ids and run ids), valid as a SageMaker job name (``[a-zA-Z0-9-]``, <= 63)."""
    digest = hashlib.sha256(f"{resource_prefix()}/{dag_id}/{run_id}".encode()).hexdigest()[:12]
    return f"findining-{model_name}"[: MAX_JOB_NAME - 13].rstrip("-") + f"-{digest}"


def training_spec(spec: ModelSpec, snapshot: Snapshot, hyperparameters: dict | None = None) -> TrainingJobSpec:
    return TrainingJobSpec(
        name=snapshot.job_name,
        model_name=spec.name,
        entry_point=spec.training_module,
        hyperparameters={**spec.hyperparameters, **(hyperparameters or {})},
        channels=snapshot.channels,
        output_prefix=training_prefix(spec.name),
    )


def check_finished(job: TrainingJob, logs: str = "") -> TrainingJob:
    if job.status == FAILED:
        raise TrainingJobFailed(f"training job {job.name} failed: {job.failure_reason}")
    if job.status != COMPLETED:
        raise TrainingJobFailed(f"training job {job.name} is {job.status}, not Completed")
    return job
