"""The retraining lifecycle: snapshot -> train -> evaluate vs champion -> gate -> register
-> baseline -> (bootstrap) deploy.

Every step is keyed on the training job's name, which is derived from the DAG run, so a
retried step or a re-run finds its own earlier result instead of doing the work twice.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

import findining_mlops
from findining_mlops.config.catalog import ModelSpec, resource_prefix
from findining_mlops.errors import DataValidationError, RegistryError, TrainingJobFailed
from findining_mlops.models.contract import extract_artifact
from findining_mlops.platform.ports import (
    APPROVED,
    COMPLETED,
    FAILED,
    REJECTED,
    ModelVersion,
    Platform,
    TrainingJob,
    TrainingJobSpec,
)
from findining_mlops.registry.variants import champion
from findining_mlops.store.partitions import read_partition, require_partitions
from findining_mlops.training.check import ModelCheckFailed, check_model

log = logging.getLogger(__name__)
CHANNELS = ("train", "validation", "test")
MAX_JOB_NAME = 63  # SageMaker's limit


def training_job_name(model_name: str, dag_id: str, run_id: str) -> str:
    """Deterministic per DAG run and environment (environments sharing an account run the same
    DAG ids and run ids), valid as a SageMaker job name (``[a-zA-Z0-9-]``, <= 63)."""
    digest = hashlib.sha256(f"{resource_prefix()}/{dag_id}/{run_id}".encode()).hexdigest()[:12]
    return f"findining-{model_name}"[: MAX_JOB_NAME - 13].rstrip("-") + f"-{digest}"


def job_prefix(spec: ModelSpec, job_name: str) -> str:
    return f"training/{spec.name}/{job_name}"


@dataclass(frozen=True)
class Snapshot:
    job_name: str
    channels: dict[str, str]
    days: dict[str, list[str]]
    rows: dict[str, int]
    fingerprint: str

    def to_dict(self) -> dict:
        return {"job_name": self.job_name, "channels": self.channels, "days": self.days, "rows": self.rows,
                "fingerprint": self.fingerprint}


def snapshot_training_data(platform: Platform, spec: ModelSpec, job_name: str, end_day: date,
                           window_days: int | None = None) -> Snapshot:
    """Copy the training window into the job's channels: oldest days train, then
    validation, and the newest ``holdout_days`` are the test set (a time split, as in
    production). Reuses a finished snapshot of the same job."""
    prefix = job_prefix(spec, job_name)
    manifest_key = f"{prefix}/snapshot.json"
    if platform.store.exists(manifest_key):
        return Snapshot(**json.loads(platform.store.read_bytes(manifest_key)))
    window = window_days or spec.training_window_days
    if window < spec.holdout_days + spec.validation_days + 1:
        raise DataValidationError(
            f"training window of {window} days is too short for {spec.validation_days} validation and "
            f"{spec.holdout_days} holdout day(s)"
        )
    days = [end_day - timedelta(days=offset) for offset in range(window - 1, -1, -1)]
    split = {
        "train": days[: window - spec.holdout_days - spec.validation_days],
        "validation": days[window - spec.holdout_days - spec.validation_days: window - spec.holdout_days],
        "test": days[window - spec.holdout_days:],
    }
    require_partitions(platform, spec.dataset, days)
    # read everything before writing anything: a bad day leaves no half snapshot
    frames = {channel: pd.concat([read_partition(platform, spec.dataset, d) for d in channel_days], ignore_index=True)
              for channel, channel_days in split.items()}
    digest = hashlib.sha256()
    channels = {}
    for channel, frame in frames.items():
        payload = _parquet(frame)
        digest.update(payload)
        platform.store.write_bytes(f"{prefix}/{channel}/part-0.parquet", payload)
        channels[channel] = f"{prefix}/{channel}"
        log.info("snapshot %s: %d rows from %s..%s", channel, len(frame), split[channel][0], split[channel][-1])
    snapshot = Snapshot(
        job_name=job_name,
        channels=channels,
        days={c: [d.isoformat() for d in split[c]] for c in CHANNELS},
        rows={c: int(len(frames[c])) for c in CHANNELS},
        fingerprint=digest.hexdigest(),
    )
    platform.store.write_bytes(manifest_key, json.dumps(snapshot.to_dict(), indent=2).encode())
    return snapshot


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    return buffer.getvalue()


def training_spec(spec: ModelSpec, snapshot: Snapshot, hyperparameters: dict | None = None) -> TrainingJobSpec:
    return TrainingJobSpec(
        name=snapshot.job_name,
        model_name=spec.name,
        entry_point=spec.training_module,
        hyperparameters={**spec.hyperparameters, **(hyperparameters or {})},
        channels=snapshot.channels,
        output_prefix=f"training/{spec.name}",
    )


def check_finished(job: TrainingJob, logs: str = "") -> TrainingJob:
    if job.status == FAILED:
        raise TrainingJobFailed(f"training job {job.name} failed: {job.failure_reason}")
    if job.status != COMPLETED:
        raise TrainingJobFailed(f"training job {job.name} is {job.status}, not Completed")
    return job


HOLDOUT_FILE = "holdout.parquet"


def evaluate_candidates(platform: Platform, spec: ModelSpec, job: TrainingJob, snapshot: Snapshot) -> dict:
    """Challenger and champion on the same holdout (the snapshot's test channel), each
    loaded and evaluated in a credential-free child process (``model_check``)."""
    holdout = pd.concat(
        [pd.read_parquet(io.BytesIO(platform.store.read_bytes(k)))
         for k in platform.store.list_keys(snapshot.channels["test"] + "/")],
        ignore_index=True,
    )
    result = {"holdout_rows": int(len(holdout)), "holdout_days": snapshot.days["test"]}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        holdout.to_parquet(workdir / HOLDOUT_FILE, index=False)
        archive = platform.store.download_file(job.model_artifact_key, workdir / "challenger.tar.gz")
        try:
            checked = check_model(spec, extract_artifact(archive, workdir / "challenger"), workdir / HOLDOUT_FILE,
                                  workdir)
        except ModelCheckFailed as exc:
            raise TrainingJobFailed(f"the model of training job {job.name} {exc}") from exc
        result["challenger"] = checked["metrics"]
        result["champion"] = evaluate_champion(platform, spec, workdir)
    return result


def evaluate_champion(platform: Platform, spec: ModelSpec, workdir: Path) -> dict | None:
    """The champion's version and figures on ``workdir/holdout.parquet``; None without one."""
    incumbent = champion(platform, spec)
    if incumbent is None:
        return None
    archive = platform.store.download_file(incumbent.artifact_key, workdir / "champion.tar.gz")
    try:
        checked = check_model(spec, extract_artifact(archive, workdir / "champion"), workdir / HOLDOUT_FILE, workdir)
    except ModelCheckFailed as exc:  # not the candidate's fault: nothing can be compared with this champion
        raise RegistryError(f"the champion {spec.name} {incumbent.display} ({incumbent.artifact_uri}) {exc}; "
                            f"no candidate of {spec.name} can be compared with it") from exc
    return {"version": incumbent.version, "display": incumbent.display, "metrics": checked["metrics"]}


def _champion_name(champion: dict) -> str:
    """``v3 (1.1.0)``; ``v3`` for an evaluation stored before versions had labels."""
    return champion.get("display") or f"v{champion['version']}"


def quality_gate(spec: ModelSpec, evaluation: dict) -> dict:
    """Approve when the primary metric reaches the minimum and does not regress against
    the champion by more than the allowed margin; every check is recorded with figures."""
    metric = spec.primary_metric
    value = evaluation["challenger"].get(metric)
    checks = [
        {
            "check": f"{metric} >= {spec.min_primary_metric}",
            "value": value,
            "passed": value is not None and value == value and value >= spec.min_primary_metric,
        }
    ]
    if evaluation.get("champion"):
        best = evaluation["champion"]["metrics"][metric]
        checks.append(
            {
                "check": f"{metric} >= champion {_champion_name(evaluation['champion'])} ({best:.4f}) - "
                         f"{spec.max_regression}",
                "value": value,
                "passed": value is not None and value >= best - spec.max_regression,
            }
        )
    approved = all(c["passed"] for c in checks)
    return {"approved": approved, "status": APPROVED if approved else REJECTED, "checks": checks}


def gate_summary(gate: dict) -> str:
    """The failed checks of a gate, with their figures: why a version was rejected."""
    failed = [f"{c['check']} failed with {c['value']:.4f}" if isinstance(c["value"], float)
              else f"{c['check']} failed with {c['value']}" for c in gate["checks"] if not c["passed"]]
    return "; ".join(failed) or "every check passed"


def code_version() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(findining_mlops.__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"findining-mlops {findining_mlops.__version__}" + (f" ({sha})" if sha else "")


def register(platform: Platform, spec: ModelSpec, job: TrainingJob, snapshot: Snapshot, evaluation: dict,
             gate: dict, reason: str, dag_run: str) -> ModelVersion:
    """Registers the job's model once, whatever the number of attempts."""
    lineage = {
        "training_job": job.name,
        "training_job_artifact": platform.store.uri(job.model_artifact_key),
        "data_snapshot": {"prefix": platform.store.uri(job_prefix(spec, job.name)), "days": snapshot.days,
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


