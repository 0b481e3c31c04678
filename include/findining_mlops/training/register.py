"""The registration step: the job's model as a version of the registry, once whatever the number of attempts
(the job's name is the idempotency key), with its lineage: training job, data snapshot, code version, DAG run,
the gate's checks and the champion it was compared with."""

from __future__ import annotations

import subprocess
from pathlib import Path

import findining_mlops
from findining_mlops.config.catalog import ModelSpec
from findining_mlops.platform.ports import ModelVersion, Platform, TrainingJob
from findining_mlops.store.layout import training_job_prefix
from findining_mlops.training.evaluate import Evaluation
from findining_mlops.training.gate import GateResult
from findining_mlops.training.snapshot import Snapshot


def code_version() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(findining_mlops.__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"findining-mlops {findining_mlops.__version__}" + (f" ({sha})" if sha else "")


def register_version(platform: Platform, spec: ModelSpec, job: TrainingJob, snapshot: Snapshot,
                     evaluation: Evaluation, gate: GateResult, reason: str, dag_run: str) -> ModelVersion:
    """Registers the job's model once, whatever the number of attempts."""
    lineage = {
        "training_job": job.name,
        "training_job_artifact": platform.store.uri(job.model_artifact_key),
        "data_snapshot": {"prefix": platform.store.uri(training_job_prefix(spec.name, job.name)), "days": snapshot.days,
                          "rows": snapshot.rows, "sha256": snapshot.fingerprint},
        "code_version": code_version(),
        "dag_run": dag_run,
        "quality_gate": gate["checks"],
        "champion": evaluation.get("champion"),
    }
    return platform.registry.register(
        # the job's own figures (e.g. the naive baseline's) plus the holdout evaluation
        spec.name, job.model_artifact_key, status=gate["status"], metrics={**job.metrics, **evaluation["challenger"]},
        lineage=lineage, reason=reason, idempotency_key=job.name,
    )
