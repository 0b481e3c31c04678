"""The operations the pipeline needs from the outside world.

Each port mirrors a SageMaker / AWS concept (training job, model package, endpoint with
production variants, CloudWatch metric, SNS topic) so both adapters honour one contract.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from findining_mlops.errors import EndpointError, RegistryError
from findining_mlops.platform.records import (
    AlertMessage,
    AnalysisConfig,
    DeploymentEvent,
    EndpointRecord,
    VersionRecord,
)

# Model package approval statuses, as in SageMaker.
PENDING = "PendingManualApproval"
APPROVED = "Approved"
REJECTED = "Rejected"
APPROVAL_STATUSES = (PENDING, APPROVED, REJECTED)

# Training job statuses, as in SageMaker.
IN_PROGRESS = "InProgress"
COMPLETED = "Completed"
FAILED = "Failed"

# Endpoint statuses, as in SageMaker: ``settle`` waits out the changing ones.
IN_SERVICE = "InService"
ENDPOINT_CHANGING = ("Creating", "Updating", "SystemUpdating", "RollingBack")


class ArtifactStore(Protocol):
    """Keys are the same under a local root or an S3 bucket (``findining_mlops.store.layout`` owns them)."""

    def uri(self, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def etags(self, prefix: str) -> dict[str, str]:
        """Key -> ETag of every object under ``prefix``, from the listing: new bytes at a
        key give a new ETag, and nothing is downloaded."""
    def version_id(self, key: str) -> str:
        """The store's id of the object's current bytes (S3's ``VersionId``), to read exactly
        those later though the key is written again; "" where the store keeps no versions
        (the local folder, an S3 bucket without versioning): there the bytes' hash names them."""
    def read_bytes(self, key: str, version_id: str = "") -> bytes:
        """The object's current bytes, or those of ``version_id``; FileNotFoundError when either is gone."""
    def write_bytes(self, key: str, data: bytes, *, immutable: bool = False) -> str: ...
    def upload_file(self, path: Path, key: str, *, immutable: bool = False) -> str: ...
    def download_file(self, key: str, path: Path, version_id: str = "") -> Path: ...
    def delete_prefix(self, prefix: str) -> None: ...


@dataclass(frozen=True)
class TrainingJobSpec:
    """What SageMaker's ``CreateTrainingJob`` needs, in backend-neutral terms."""

    name: str
    model_name: str
    entry_point: str
    hyperparameters: dict
    channels: dict[str, str]  # channel name -> store prefix
    output_prefix: str  # store prefix under which <name>/output/model.tar.gz appears


@dataclass(frozen=True)
class TrainingJob:
    name: str
    status: str
    model_artifact_key: str | None
    failure_reason: str | None = None
    metrics: dict = field(default_factory=dict)
    log_uri: str | None = None


class TrainingJobs(Protocol):
    def start(self, spec: TrainingJobSpec) -> TrainingJob:
        """Start the job, or return the existing one of that name (never a second job)."""

    def describe(self, name: str) -> TrainingJob | None: ...
    def logs(self, name: str) -> str: ...


@dataclass(frozen=True)
class ModelCheckTask:
    """One check of a model artifact (``training.check``): unpack, load, one smoke request, evaluate on the
    holdout; all its inputs are on the store. ``name`` is its identity (a SageMaker job name, at most 63
    characters): running a name again attaches to, or reads, the first run."""

    name: str
    package: str  # the model's package (``ModelSpec.package``): its inference handlers and evaluation
    artifact_key: str
    artifact_version_id: str | None  # the exact object version to check; None: the key's current bytes
    holdout_prefix: str  # parquet files of labelled rows, every file under the prefix
    smoke_request: dict | None = None


class ModelChecks(Protocol):
    def run(self, task: ModelCheckTask, time_limit_s: float) -> dict:
        """The check's result (``training.check.CheckResult``), or ModelCheckFailed naming the step the
        model failed. Never loads the model in this process: locally in a sandboxed child, on AWS in a
        SageMaker processing job with network isolation."""


def version_name(number: int, label: str = "") -> str:
    """A version as a person reads it: ``v3 (1.1.0)``, or ``v3`` when it has no label."""
    return f"v{number} ({label})" if label else f"v{number}"


@dataclass(frozen=True)
class ModelVersion:
    model_name: str
    version: int
    status: str
    artifact_key: str
    artifact_uri: str
    metrics: dict
    lineage: dict
    created_at: str
    reason: str = ""
    status_note: str = ""
    label: str = ""  # the name people use, e.g. "1.1.0" (findining_mlops.registry.versions)

    @property
    def display(self) -> str:
        """Both names, as messages show a version: ``v3 (1.1.0)``."""
        return version_name(self.version, self.label)

    def to_dict(self) -> VersionRecord:
        return {"model": self.model_name, "version": self.version, "label": self.label, "status": self.status,
                "metrics": self.metrics, "artifact_uri": self.artifact_uri, "created_at": self.created_at,
                "lineage": self.lineage, "reason": self.reason, "status_note": self.status_note}


@dataclass(frozen=True)
class CheckedArtifact:
    """The object a check read, so that the registration copies those bytes and no others:
    the store's ``version_id`` of it ("" where the store keeps no versions) and their sha256."""

    version_id: str
    sha256: str

    def verify(self, uri: str, data: bytes) -> None:
        """Refuses (RegistryError) bytes that are not the checked ones: the key was written
        again after the check, and what is there now was never checked."""
        found = hashlib.sha256(data).hexdigest()
        if found != self.sha256:
            raise RegistryError(f"{uri} is not the object that was checked: the check read sha256 {self.sha256}, "
                                f"the registration found sha256 {found}; nothing was registered. The new bytes "
                                f"are checked as an upload of their own")


class ModelRegistry(Protocol):
    def register(self, model_name: str, artifact_key: str, *, status: str, metrics: dict, lineage: dict, reason: str,
                 idempotency_key: str, label: str | None = None,
                 checked: CheckedArtifact | None = None) -> ModelVersion:
        """Add version n+1 with an immutable copy of the artifact at
        ``models/<model>/<version>/model.tar.gz``; the same idempotency key returns the
        version already registered. ``label`` (default: the next of the model's scheme,
        ``versions.next_label``) must be new for the model, else RegistryError. With
        ``checked``, the copy is of that version of the object and must have that sha256,
        else RegistryError and nothing is registered (bytes written over a checked upload
        are not the checked bytes)."""

    def get(self, model_name: str, version: int) -> ModelVersion: ...
    def list_versions(self, model_name: str | None = None) -> list[ModelVersion]: ...
    def latest(self, model_name: str, status: str = APPROVED) -> ModelVersion | None: ...
    def update_status(self, model_name: str, version: int, status: str, note: str = "") -> ModelVersion: ...

    def record_deployment(self, model_name: str, version: int, endpoint: str, event: str, detail: str,
                          run: str) -> None:
        """Appends ``promoted`` / ``rolled_back`` / ``failed`` / ``deployed``; the same (event, run) is kept once."""

    def deployment_history(self, model_name: str | None = None) -> list[DeploymentEvent]: ...


@dataclass(frozen=True)
class ProductionVariant:
    variant_name: str
    model_name: str
    model_version: int
    artifact_uri: str
    weight: float


@dataclass(frozen=True)
class Endpoint:
    name: str
    status: str
    config_name: str
    variants: tuple[ProductionVariant, ...]
    updated_at: str

    def to_dict(self) -> EndpointRecord:
        total = sum(v.weight for v in self.variants) or 1.0
        return {
            "endpoint": self.name,
            "status": self.status,
            "config": self.config_name,
            "updated_at": self.updated_at,
            "variants": [
                {
                    "variant": v.variant_name,
                    "model": v.model_name,
                    "version": v.model_version,
                    "artifact_uri": v.artifact_uri,
                    "weight": v.weight,
                    "traffic_percent": round(100.0 * v.weight / total, 3),
                }
                for v in self.variants
            ],
        }


@dataclass(frozen=True)
class Invocation:
    body: bytes
    content_type: str
    variant_name: str
    inference_id: str
    latency_ms: float


def check_variants(endpoint_name: str, variants: list[ProductionVariant]) -> None:
    """What every adapter refuses before it touches an endpoint, with the same message."""
    if not variants:
        raise EndpointError(f"endpoint {endpoint_name} needs at least one production variant")
    names = [v.variant_name for v in variants]
    if len(set(names)) != len(names):
        raise EndpointError(f"endpoint {endpoint_name}: variant names must be unique, got {names}")
    check_weights(endpoint_name, {v.variant_name: v.weight for v in variants})


def check_weights(endpoint_name: str, weights: dict[str, float]) -> None:
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise EndpointError(f"endpoint {endpoint_name}: variant weights must be >= 0 with a positive sum, "
                            f"got {weights}")


class Endpoints(Protocol):
    def deploy(self, endpoint_name: str, variants: list[ProductionVariant], *, wait: bool = True) -> Endpoint:
        """Create the endpoint or update it to a new endpoint config with these variants.

        An update takes SageMaker minutes: ``wait=False`` returns once it is submitted, the
        endpoint possibly still ``Creating``/``Updating``, and ``settle`` finishes it later,
        so the wait need not hold a worker slot."""

    def update_weights(self, endpoint_name: str, weights: dict[str, float], *, wait: bool = True) -> Endpoint: ...

    def settle(self, endpoint_name: str, variants: list[ProductionVariant]) -> Endpoint | None:
        """None while the endpoint is still changing; then the endpoint, once it serves these
        variants at their weights with their alarms. Serving others (SageMaker rolled the
        update back) or a failed endpoint is an EndpointError."""
    def describe(self, endpoint_name: str) -> Endpoint | None: ...
    def list_endpoints(self) -> list[Endpoint]: ...

    def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        *,
        content_type: str = "application/json",
        target_variant: str | None = None,
        inference_id: str | None = None,
        event_time: datetime | None = None,
        timeout_s: float | None = None,
    ) -> Invocation:
        """``InvokeEndpoint``. ``event_time`` lets the local runtime replay simulated days;
        the AWS adapter ignores it (SageMaker stamps its own clock). ``timeout_s`` bounds the
        call (an EndpointError past it; the adapter does not retry such a call itself)."""

    def flush(self) -> None:
        """Write buffered per-variant metrics (a no-op where the service records them)."""

    def acquire_deployment_lock(self, endpoint_name: str, owner: str) -> str | None:
        """Takes the endpoint's deployment lock for ``owner`` (again, if it already holds it);
        returns the other holder when somebody else has it, else None."""

    def release_deployment_lock(self, endpoint_name: str, owner: str) -> None: ...


@dataclass(frozen=True)
class MetricDatum:
    name: str
    value: float
    dimensions: dict[str, str]
    timestamp: datetime
    unit: str = "None"


class Metrics(Protocol):
    def put(self, namespace: str, data: list[MetricDatum]) -> None: ...
    def query(
        self, namespace: str, name: str, dimensions: dict[str, str], start: datetime, end: datetime
    ) -> list[MetricDatum]: ...


# A/B test statuses
RUNNING = "running"
CONCLUDED = "concluded"
STOPPED = "stopped"
TEST_STATUSES = (RUNNING, CONCLUDED, STOPPED)


@dataclass(frozen=True)
class ABTest:
    """An A/B test between two versions of one model on its endpoint (the seed's ``create_test``)."""

    test_id: str
    test_name: str
    model_name: str
    endpoint: str
    control_version: int
    treatment_version: int
    control_variant: str
    treatment_variant: str
    traffic_split: int  # percent of users in treatment
    duration_days: int
    success_metrics: dict  # name -> {"kind", "direction"}
    guardrail_metrics: dict
    alpha: float
    started_at: str  # ISO date of day 1
    status: str = RUNNING
    decision: str = ""
    winner: int | None = None  # the winning version, once concluded
    concluded_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Every field, as both adapters store a test and the CLI and DAGs show it."""
        return asdict(self)

    def analysis_config(self) -> AnalysisConfig:
        """The ``abtest.analyze`` config of this test."""
        return {"control_share": 1 - self.traffic_split / 100, "alpha": self.alpha,
                "success_metrics": self.success_metrics, "guardrail_metrics": self.guardrail_metrics}


@dataclass(frozen=True)
class MetricEvent:
    """One outcome of one user in a test (the seed's ``recordABTestResult``)."""

    event_id: str  # idempotency key: a retried write with the same id is kept once
    test_id: str
    user_id: str
    variant: str  # "control" | "treatment"
    metric_name: str
    metric_value: float
    timestamp: datetime
    context: dict = field(default_factory=dict)


class ABTests(Protocol):
    """A/B tests (DynamoDB-shaped: tests by id) and their metric events (parquet batches on the store)."""

    def create(self, test: ABTest) -> ABTest:
        """Records a running test; the same ``test_id`` again returns the stored one. Refuses
        (ABTestError) while another test runs on the same endpoint."""

    def get(self, test_id: str) -> ABTest | None: ...
    def list_tests(self, status: str | None = None) -> list[ABTest]: ...

    def finish(self, test_id: str, status: str, decision: str, winner: int | None, when: str) -> ABTest:
        """Moves a running test to ``concluded`` / ``stopped``; a test already finished is returned unchanged."""

    def record(self, events: list[MetricEvent], batch_id: str | None = None) -> int:
        """Writes the events of one test as one batch, at most once by ``batch_id`` (by default a hash of the
        events' ids); returns how many were new, 0 for a retried batch."""

    def events(self, test_id: str, until: datetime | None = None) -> list[MetricEvent]:
        """The test's events with ``timestamp < until`` (all when None)."""


class Notifications(Protocol):
    def publish(self, subject: str, message: str) -> str:
        """Publish to the alerts topic; returns the message id."""

    def recent(self, limit: int) -> list[AlertMessage]:
        """The newest ``limit`` published messages, newest first, in SNS's shape (``MessageId``,
        ``Subject``, ``Message``, ``Timestamp``): what the state page shows as recent alerts."""


@dataclass
class Platform:
    store: ArtifactStore
    training: TrainingJobs
    checks: ModelChecks
    registry: ModelRegistry
    endpoints: Endpoints
    metrics: Metrics
    notifications: Notifications
    abtests: ABTests
