"""Model artifacts uploaded by people: find, check, gate, register.

The seed's guide deploys a model by copying its tarball into the bucket
(``aws s3 cp recommendation-model-1.1.0.tar.gz s3://bucket/models/recommendation/1.1.0/model.tar.gz``).
Such an upload is any ``models/<model>/<version>/model.tar.gz`` that the registry did not
write: the registry's own copies sit in integer version folders and are its artifact
keys. An upload is known by its key and the store's ETag, read from the listing: a poll
downloads nothing it has seen, the same object is registered (or rejected) once, and
replaced bytes at the same key are checked again.

An upload is treated like a retrained version: evaluated with the champion on the same
recent labelled days and passed through the model's quality gate
(``training.gate``). Loading it runs the pickled code inside, so the load, the
smoke request and the evaluation run where untrusted code is contained — the sandbox
locally, a SageMaker processing job with network isolation on AWS (``platform.checks``,
``training.check``) — never in the orchestrator.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TypedDict, cast

import pandas as pd

from findining_mlops.config.catalog import ModelSpec, get_model
from findining_mlops.errors import (
    DataValidationError,
    MissingPartitionError,
    ModelCheckFailed,
    RegistryError,
    UnknownModelError,
)
from findining_mlops.models.requests import synthetic_requests
from findining_mlops.platform.ports import APPROVED, CheckedArtifact, ModelCheckTask, ModelVersion, Platform
from findining_mlops.registry import versions
from findining_mlops.registry.baselines import BASELINE_FILES, store_baseline
from findining_mlops.serving.server.handlers import FAULT_FILE
from findining_mlops.store.layout import (
    MODELS_PREFIX,
    dataset_prefix,
    model_artifact_key,
    model_artifact_of,
    model_check_key,
    partition_day,
    upload_rejection_key,
)
from findining_mlops.store.partitions import read_partition
from findining_mlops.training.check import MODEL_CHECK_TIME_LIMIT_S, check_name
from findining_mlops.training.evaluate import Evaluation, evaluate_champion
from findining_mlops.training.gate import GateResult, gate_summary, quality_gate
from findining_mlops.training.register import code_version

log = logging.getLogger(__name__)
# one fixed request of the synthetic world, so a check gives the same verdict every time
SMOKE_SEED, SMOKE_DAY = 0, date(2026, 1, 1)


class UploadRecord(TypedDict):
    """An upload as the watch DAG passes it between tasks and a rejection records it."""

    key: str
    model: str
    version: str
    etag: str


class UploadCheck(TypedDict):
    """What ``validate_upload`` found: the gate's verdict and the evidence for it."""

    upload: UploadRecord
    sha256: str  # of the checked bytes
    version_id: str  # the store's version of them (S3 VersionId; "" locally, where the hash names them)
    evaluation: Evaluation
    gate: GateResult
    files: list[str]  # the tarball's files
    smoke_response: object


@dataclass(frozen=True)
class Upload:
    key: str
    model: str
    version: str  # the uploader's label, e.g. "1.1.0"; the registry numbers its own versions
    etag: str  # the store's version of the object: new bytes at the key, new ETag

    def to_dict(self) -> UploadRecord:
        return cast(UploadRecord, asdict(self))

    @property
    def idempotency_key(self) -> str:
        return f"upload:{self.key}:{self.etag}"

    @property
    def rejection_key(self) -> str:
        """Where a refusal of these bytes is recorded."""
        return upload_rejection_key(self.model, self.version, self.etag)


def find_uploads(platform: Platform) -> list[Upload]:
    """Uploads not registered yet and not rejected before, in model then version order
    (``1.10.0`` after ``1.9.0``), so the newest of a batch registers last. Reads the
    listing only: an object seen before is not downloaded again."""
    versions = platform.registry.list_versions()
    registry_keys = {v.artifact_key for v in versions}
    registered = {(v.lineage.get("uploaded_artifact"), v.lineage.get("etag")) for v in versions}
    uploads = []
    for key, etag in platform.store.etags(MODELS_PREFIX).items():
        artifact = model_artifact_of(key)
        if artifact is None or key in registry_keys:
            continue
        model, label = artifact
        if label.isdigit():
            # the registry's namespace: a copy whose registration is in flight (or died
            # before its commit, and is reused by the next one); never an upload
            log.warning("%s is in a registry version folder, not taken as an upload; upload under a version "
                        "label such as 1.1.0", platform.store.uri(key))
            continue
        upload = Upload(key, model, label, etag)
        if (key, etag) not in registered and not platform.store.exists(upload.rejection_key):
            uploads.append(upload)
    return sorted(uploads, key=lambda u: (u.model, _natural(u.version)))


def _natural(label: str) -> list:
    # digits and text alternate at the same positions, so the parts compare
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]


def validate_upload(platform: Platform, upload: Upload, time_limit_s: float = MODEL_CHECK_TIME_LIMIT_S) -> UploadCheck:
    """Checks the exact object version (``platform.checks``: in the sandbox, or a SageMaker
    processing job): unpacked and loaded with the model's serving handlers, asked one smoke
    request and evaluated with the champion on the newest labelled days; then the model's
    quality gate judges. Whatever keeps the upload from serving raises DataValidationError
    naming it; a gate's "no" is a verdict in the result (``gate``), registered as ``Rejected``."""
    where = platform.store.uri(upload.key)
    try:
        spec = get_model(upload.model)
    except UnknownModelError as exc:
        raise DataValidationError(f"{where}: {exc}") from exc
    check = spec.code.requests.check_response
    version_id = platform.store.version_id(upload.key)
    sha256 = _sha256(platform, upload.key, version_id)
    check_upload_label(platform, upload, sha256)
    days, holdout = recent_holdout(platform, spec)
    name = check_name(spec.name, "upload", sha256, *days)
    holdout_prefix = model_check_key(name, "holdout")
    platform.store.write_bytes(f"{holdout_prefix}/part-0.parquet", holdout.to_parquet(index=False))
    _, _, body = synthetic_requests(spec, SMOKE_SEED, SMOKE_DAY, 1)[0]
    task = ModelCheckTask(name, spec.package, upload.key, version_id or None, holdout_prefix, smoke_request=body)
    try:
        checked = platform.checks.run(task, time_limit_s)
    except ModelCheckFailed as exc:
        raise DataValidationError(f"{where} {exc}") from exc
    if FAULT_FILE in checked["files"]:
        raise DataValidationError(f"{where} holds {FAULT_FILE}: fault injection is for rollback drills, never "
                                  f"for an uploaded model; remove the file and upload again")
    problem = check(body, checked["smoke_response"])
    if problem:
        raise DataValidationError(f"{where} answers a smoke request wrongly: {problem}; "
                                  f"got {checked['smoke_response']}")
    evaluation: Evaluation = {"holdout_rows": int(len(holdout)), "holdout_days": days,
                              "challenger": checked["metrics"],
                              "champion": evaluate_champion(platform, spec, holdout_prefix)}
    return {"upload": upload.to_dict(), "sha256": sha256, "version_id": version_id, "evaluation": evaluation,
            "gate": quality_gate(spec, evaluation), "files": checked["files"],
            "smoke_response": checked["smoke_response"]}


def _sha256(platform: Platform, key: str, version_id: str) -> str:
    """The digest of the object version that is checked (streamed through a file: archives are large)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = platform.store.download_file(key, Path(tmp) / "model.tar.gz", version_id)
        with archive.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()


def check_upload_label(platform: Platform, upload: Upload, sha256: str) -> None:
    """The upload's folder name becomes its version label: one that cannot be a label, or
    that the model already has (a label names one version), is refused
    (DataValidationError) before anything is checked or registered."""
    where = platform.store.uri(upload.key)
    try:
        versions.check_label(upload.model, upload.version)
    except RegistryError as exc:
        raise DataValidationError(f"{where}: {exc}") from exc
    known = platform.registry.list_versions(upload.model)
    taken = next((v for v in known if v.label == upload.version), None)
    if taken is None:
        return
    same = "the same bytes" if taken.lineage.get("sha256") == sha256 else "different bytes"
    raise DataValidationError(
        f"{where}: {upload.model} already has a version labelled {upload.version}, {taken.display} "
        f"({taken.status}), and a label names one version; this upload has {same} and is not registered. "
        f"Upload a new model under a new label, e.g. "
        f"{model_artifact_key(upload.model, versions.next_label(v.label for v in known))}")


def recent_holdout(platform: Platform, spec: ModelSpec) -> tuple[list[str], pd.DataFrame]:
    """The newest ``holdout_days`` days of the model's labelled data: what the upload and
    the champion are both evaluated on."""
    prefix = dataset_prefix(spec.dataset)
    labelled = sorted({day for key in platform.store.list_keys(prefix) if (day := partition_day(key))})
    if not labelled:
        raise MissingPartitionError(f"no labelled {spec.dataset} data under {platform.store.uri(prefix)} to evaluate "
                                    f"an upload of {spec.name} on; uploads wait until the data is there")
    days = labelled[-spec.holdout_days:]
    frame = pd.concat([read_partition(platform, spec.dataset, day) for day in days], ignore_index=True)
    return [day.isoformat() for day in days], frame


def register_upload(platform: Platform, upload: Upload, validation: dict, dag_run: str = "") -> ModelVersion:
    """Registers a checked upload as the quality gate decided — ``Approved`` or ``Rejected``
    with the gate's reason — once per key and ETag, with the holdout evaluation as its
    metrics; then stores its drift baseline when the tarball has one. The registry copies
    the version of the object that was checked and refuses other bytes (RegistryError): an
    upload written again between the check and now is not registered on the old verdict."""
    gate = validation["gate"]
    baseline = all(name in validation["files"] for name in BASELINE_FILES)
    reason = f"manual upload {upload.version} ({upload.key})"
    if gate["status"] != APPROVED:
        reason += f"; rejected by the quality gate: {gate_summary(gate)}"
    if not baseline:
        reason += f"; no drift baseline: the tarball lacks some of {', '.join(BASELINE_FILES)}"
    evaluation = validation["evaluation"]
    lineage = {
        "uploaded_artifact": upload.key,
        "uploaded_artifact_uri": platform.store.uri(upload.key),
        "upload_version": upload.version,
        "etag": upload.etag,
        "sha256": validation["sha256"],
        "version_id": validation["version_id"],
        "source": "manual upload",
        "files": validation["files"],
        "smoke_response": validation["smoke_response"],
        "holdout_days": evaluation["holdout_days"],
        "quality_gate": gate["checks"],
        "champion": evaluation["champion"],
        "code_version": code_version(),
        "dag_run": dag_run,
    }
    version = platform.registry.register(upload.model, upload.key, status=gate["status"],
                                         metrics=evaluation["challenger"], lineage=lineage, reason=reason,
                                         idempotency_key=upload.idempotency_key, label=upload.version,
                                         checked=CheckedArtifact(validation["version_id"], validation["sha256"]))
    if baseline:
        store_baseline(platform, version)
    else:
        log.warning("%s %s has no drift baseline: monitoring cannot judge its drift", version.model_name,
                    version.display)
    return version


def reject_upload(platform: Platform, upload: Upload, reason: str) -> str:
    """Records the verdict, so the next polls skip these bytes instead of alerting again."""
    key = upload.rejection_key
    platform.store.write_bytes(key, json.dumps({**upload.to_dict(), "reason": reason}, indent=2).encode())
    return key
