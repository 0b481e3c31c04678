"""The JSON forms of the ports' values: what the CLI prints, DAG tasks pass through XCom and the adapters
store. Plain dicts at run time (``TypedDict``), so they serialise as they are."""

from __future__ import annotations

from typing import TypedDict


class TrainingJobRecord(TypedDict):
    """Every field of ``TrainingJob``: what the training operator returns through XCom."""

    name: str
    status: str
    model_artifact_key: str | None
    failure_reason: str | None
    metrics: dict
    log_uri: str | None


class VersionRecord(TypedDict):
    """A version as the CLI prints it and a DAG task returns it (``ModelVersion.to_dict``)."""

    model: str
    version: int
    label: str
    status: str
    metrics: dict
    artifact_uri: str
    created_at: str
    lineage: dict
    reason: str
    status_note: str


class DeploymentEvent(TypedDict):
    """One row of ``ModelRegistry.deployment_history``: what happened to a version on an endpoint."""

    model_name: str
    version: int
    endpoint: str
    event: str  # promoted / rolled_back / failed / deployed
    detail: str
    run: str
    at: str  # ISO timestamp


class VariantRecord(TypedDict):
    """A production variant as reports, the CLI and rollout results show it."""

    variant: str
    model: str
    version: int
    artifact_uri: str
    weight: float
    traffic_percent: float


class EndpointRecord(TypedDict):
    """An endpoint as reports, the CLI and rollout results show it (``Endpoint.to_dict``)."""

    endpoint: str
    status: str
    config: str
    updated_at: str
    variants: list[VariantRecord]


class AnalysisConfig(TypedDict):
    """What the A/B statistics need of a test (``ABTest.analysis_config``)."""

    control_share: float
    alpha: float
    success_metrics: dict
    guardrail_metrics: dict


class AlertMessage(TypedDict):
    """A published alert in SNS's shape, as both adapters keep it and the state page lists it."""

    MessageId: str
    TopicArn: str
    Subject: str
    Message: str
    Timestamp: str  # ISO timestamp
