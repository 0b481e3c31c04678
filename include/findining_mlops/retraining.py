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
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import findining_mlops
from findining_mlops.catalog import ModelSpec, resource_prefix
from findining_mlops.data.contracts import SCHEMAS, partition_prefix
from findining_mlops.errors import DataValidationError, MissingPartitionError, RegistryError, TrainingJobFailed
from findining_mlops.model_check import ModelCheckFailed, check_model
from findining_mlops.models import contract
from findining_mlops.platform.ports import (
    APPROVED, COMPLETED, FAILED, REJECTED, ModelVersion, Platform, ProductionVariant, TrainingJob, TrainingJobSpec,
)

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


def partition_files(platform: Platform, dataset: str, day: date) -> list[str]:
    return [k for k in platform.store.list_keys(partition_prefix(dataset, day)) if k.endswith(".parquet")]


def require_partitions(platform: Platform, dataset: str, days: list[date]) -> None:
    """Fails naming every missing day, before anything is read or written."""
    missing = [partition_prefix(dataset, d) for d in days if not partition_files(platform, dataset, d)]
    if missing:
        raise MissingPartitionError(
            f"missing data partition(s) {', '.join(missing)} in {platform.store.uri('')}; "
            f"generate or backfill them, or choose another data_end_date"
        )


def read_partition(platform: Platform, dataset: str, day: date) -> pd.DataFrame:
    """One daily partition, checked against its contract. Only what the data itself gets
    wrong is a ``DataValidationError``; a store that cannot be read right now (throttled,
    unreachable) raises its own error, which the task's retries handle."""
    require_partitions(platform, dataset, [day])
    prefix = partition_prefix(dataset, day)
    keys = partition_files(platform, dataset, day)
    tables = []
    for key in keys:
        data = platform.store.read_bytes(key)
        try:
            tables.append(pq.read_table(io.BytesIO(data)))
        except (pa.ArrowException, OSError) as exc:  # parsing bytes in memory: an OSError is a corrupt file
            raise DataValidationError(f"{platform.store.uri(key)} is not readable parquet: {exc}") from exc
    frame = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    expected = SCHEMAS[dataset]
    missing = [name for name in expected.names if name not in frame.columns]
    if missing:
        raise DataValidationError(f"{platform.store.uri(prefix)} lacks column(s) {', '.join(missing)}")
    return frame


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


def extract_artifact(archive: Path, target: Path) -> Path:
    """Unpacks a model.tar.gz; the ``data`` filter refuses members that would land outside
    ``target``. Nothing is loaded: that runs the pickled code inside."""
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(target, filter="data")
    return target


def champion(platform: Platform, spec: ModelSpec) -> ModelVersion | None:
    """The version serving most traffic on the model's endpoint, else the latest approved."""
    endpoint = platform.endpoints.describe(spec.endpoint_name)
    if endpoint is not None:
        live = max(endpoint.variants, key=lambda v: v.weight)
        return platform.registry.get(spec.name, live.model_version)
    return platform.registry.latest(spec.name, APPROVED)


HOLDOUT_FILE = "holdout.parquet"


def evaluate_candidates(platform: Platform, spec: ModelSpec, job: TrainingJob, snapshot: Snapshot) -> dict:
    """Challenger and champion on the same holdout (the snapshot's test channel), each
    loaded and evaluated in a credential-free child process (``model_check``)."""
    holdout = pd.concat(
        [pd.read_parquet(io.BytesIO(platform.store.read_bytes(k))) for k in platform.store.list_keys(snapshot.channels["test"] + "/")],
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
                "check": f"{metric} >= champion {_champion_name(evaluation['champion'])} ({best:.4f}) - {spec.max_regression}",
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


def baseline_prefix(model_name: str, version: int) -> str:
    return f"baselines/{model_name}/{version}"


# what a version's drift baseline is made of, all written by the training contract
BASELINE_FILES = (contract.REFERENCE_FILE, contract.METADATA_FILE, contract.EVALUATION_FILE)


def store_baseline(platform: Platform, version: ModelVersion) -> str:
    """Copies the reference profile computed at training time next to the version."""
    prefix = baseline_prefix(version.model_name, version.version)
    with tempfile.TemporaryDirectory() as tmp:
        archive = platform.store.download_file(version.artifact_key, Path(tmp) / "model.tar.gz")
        model_dir = extract_artifact(archive, Path(tmp) / "model")  # files only: the model is not loaded
        for name in BASELINE_FILES:
            platform.store.upload_file(model_dir / name, f"{prefix}/{name}")
    return prefix


def bootstrap_deploy(platform: Platform, spec: ModelSpec, version: ModelVersion,
                     wait: bool = True) -> list[ProductionVariant] | None:
    """A model without an endpoint gets one serving the approved version at 100 %; returns
    the variants asked for (``wait=False``: the endpoint may still be ``Creating``)."""
    if version.status != APPROVED:
        return None
    if platform.endpoints.describe(spec.endpoint_name) is not None:
        return None
    variants = [ProductionVariant(variant_name(version), spec.name, version.version, version.artifact_uri, 1.0)]
    platform.endpoints.deploy(spec.endpoint_name, variants, wait=wait)
    return variants


def variant_name(version: ModelVersion) -> str:
    return f"{version.model_name}-v{version.version}"


def version_of_variant(model_name: str, variant: str) -> int:
    """The registry version a production variant serves, from its name (``variant_name``'s
    inverse). Data capture is filed under the variant's name, so this is how a past day's
    traffic names the version that served it, whatever serves the endpoint now."""
    prefix = f"{model_name}-v"
    number = variant[len(prefix):] if variant.startswith(prefix) else ""
    if not number.isdigit():
        raise DataValidationError(f"variant {variant!r} of {model_name} is not named {prefix}<version>: "
                                  "cannot tell which version served its traffic")
    return int(number)
