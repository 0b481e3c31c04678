"""The model registry as SageMaker model package groups and versions.

A version is a model package of the group ``<prefix>-<model>`` (``catalog.model_package_group``): its
``ModelPackageVersion`` is the version, ``ModelApprovalStatus`` the status, ``ModelMetrics``
point at the metrics JSON, and lineage, the idempotency key and the version label
(``VersionLabel``, e.g. ``1.1.0``) are in ``CustomerMetadataProperties`` (the full lineage
JSON next to the metrics, since a property holds at most 256 characters; the label also in
``version.json`` there, because listings carry no properties). The artifact is copied once to
``models/<model>/<version>/model.tar.gz`` before the package points at it.

Reads never describe packages one by one (SageMaker allows a few DescribeModelPackage calls
a second): a version is built from its ListModelPackages summary, read in pages, plus the
documents at keys derived from its number; status notes, which no summary carries, are kept
in the state table. A registration records its version under its idempotency key
(``registry/<model>/registrations/``), so a retry finds its package without a scan.

Registration takes a per-model lock (DynamoDB) because SageMaker numbers versions in
creation order: under the lock, the next version's artifact key and the package agree.
Deployment history is kept in the state table, one item per (model, version, endpoint,
event, run), written with a condition so a retried task records it once."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from findining_mlops.config.catalog import all_models, get_model, model_package_group, resource_prefix
from findining_mlops.config.settings import AwsSettings
from findining_mlops.errors import RegistryError
from findining_mlops.platform.artifact_copy import copy_artifact
from findining_mlops.platform.aws.clients import AwsClients, error_code, not_found
from findining_mlops.platform.aws.dynamodb import Lock, now_iso
from findining_mlops.platform.aws.source import SERVE_PROGRAM, image_uri, upload_source
from findining_mlops.platform.aws.store import S3ArtifactStore
from findining_mlops.platform.ports import APPROVAL_STATUSES, APPROVED, CheckedArtifact, ModelVersion
from findining_mlops.platform.records import DeploymentEvent
from findining_mlops.registry import versions
from findining_mlops.store.json import read_json, write_json
from findining_mlops.store.layout import model_artifact_key, registration_key, registry_document_key

log = logging.getLogger(__name__)
PROPERTY_LIMIT = 256  # characters of a CustomerMetadataProperties value
LOCK_TTL_S, LOCK_WAIT_S = 900, 300
JSON = "application/json"


def package_group(model_name: str) -> str:
    return model_package_group(model_name)


def _models_by_group() -> dict[str, str]:
    """This environment's package group -> model name, for every model of the catalog."""
    return {package_group(name): name for name in all_models()}


def idempotency_property(key: str) -> str:
    """The key itself when it fits a property, else its hash."""
    return key if len(key) <= PROPERTY_LIMIT else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def serving_environment(source_uri: str, region: str) -> dict[str, str]:
    """What the scikit-learn serving container needs to import the model's handlers."""
    return {"SAGEMAKER_PROGRAM": SERVE_PROGRAM, "SAGEMAKER_SUBMIT_DIRECTORY": source_uri,
            "SAGEMAKER_REGION": region, "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}


class SageMakerModelRegistry:
    def __init__(self, clients: AwsClients, settings: AwsSettings, store: S3ArtifactStore):
        self.clients = clients
        self.settings = settings
        self.store = store
        self._documents: dict[str, dict] = {}  # metrics/lineage JSON never change once written (by key)

    @property
    def _sm(self) -> Any:
        return self.clients.sagemaker

    # -- writes ----------------------------------------------------------------------
    def register(self, model_name: str, artifact_key: str, *, status: str, metrics: dict, lineage: dict, reason: str,
                 idempotency_key: str, label: str | None = None,
                 checked: CheckedArtifact | None = None) -> ModelVersion:
        _check_status(status)
        if label is not None:
            versions.check_label(model_name, label)
        self._ensure_group(model_name)
        existing = self._find(model_name, idempotency_key)
        if existing:
            return existing
        lock = Lock(self.clients, self.settings.state_table, f"registry#{model_name}")
        owner = f"{idempotency_property(idempotency_key)}@{time.time_ns()}"
        deadline = time.monotonic() + LOCK_WAIT_S
        while (holder := lock.acquire(owner, ttl_s=LOCK_TTL_S)) is not None:
            if time.monotonic() > deadline:
                raise RegistryError(f"cannot register {model_name}: the registry lock is held by {holder}")
            time.sleep(1)
        try:
            return self._find(model_name, idempotency_key) or self._create(
                model_name, artifact_key, status, metrics, lineage, reason, idempotency_key, label, checked)
        finally:
            lock.release(owner)

    def _create(self, model_name: str, artifact_key: str, status: str, metrics: dict, lineage: dict, reason: str,
                idempotency_key: str, label: str | None, checked: CheckedArtifact | None) -> ModelVersion:
        summaries = self._summaries(model_name)
        version = max(summaries, default=0) + 1
        label = versions.allocate_label(model_name, label, {self._label(model_name, n): n for n in summaries})
        target = copy_artifact(self.store, model_name, artifact_key, version, checked)
        write_json(self.store, registry_document_key(model_name, version, "metrics.json"), metrics)
        write_json(self.store, registry_document_key(model_name, version, "lineage.json"), lineage)
        self.store.write_bytes(registry_document_key(model_name, version, "version.json"),
                               json.dumps({"label": label}).encode())
        properties = {
            "Model": model_name,
            "VersionLabel": label,
            "IdempotencyKey": idempotency_property(idempotency_key),
            "ArtifactKey": target,
            "SourceArtifact": self.store.uri(artifact_key),
            "MetricsUri": self.store.uri(registry_document_key(model_name, version, "metrics.json")),
            "LineageUri": self.store.uri(registry_document_key(model_name, version, "lineage.json")),
            "TrainingJob": str(lineage.get("training_job", "")),
            "DagRun": str(lineage.get("dag_run", "")),
            "CodeVersion": str(lineage.get("code_version", "")),
            "DataSha256": str((lineage.get("data_snapshot") or {}).get("sha256", "")),
        }
        request = self._package_request(model_name, status, reason, target, properties) | {
            # SageMaker's own retry token: the same registration sent twice creates one package
            "ClientToken": hashlib.sha256(f"{model_name}/{idempotency_key}".encode()).hexdigest()[:36]}
        # written before the package: a retry after a crash in between finds the version it reserved
        self.store.write_bytes(registration_key(model_name, idempotency_key), json.dumps({"version": version}).encode())
        arn = self._sm.create_model_package(**request)["ModelPackageArn"]
        created = self._version(self._sm.describe_model_package(ModelPackageName=arn), {})
        if created.version != version:
            raise RegistryError(f"{model_name}: SageMaker numbered the new package v{created.version}, but its "
                                f"artifact went to {target}; was a package created outside the pipeline's lock?")
        return created

    def _package_request(self, model_name: str, status: str, reason: str, target: str,
                         properties: dict[str, str]) -> dict[str, Any]:
        """CreateModelPackage's request: the serving container of the model's source, and the properties."""
        s = self.settings
        source = upload_source(self.store, get_model(model_name), s.sklearn_framework_version)
        request: dict[str, Any] = {
            "ModelPackageGroupName": package_group(model_name),
            "ModelPackageDescription": (reason or "")[:1024],
            "ModelApprovalStatus": status,
            "InferenceSpecification": {
                "Containers": [{"Image": image_uri(s.region, s.sklearn_framework_version, "inference"),
                                "ModelDataUrl": self.store.uri(target),
                                "Environment": serving_environment(source, s.region)}],
                "SupportedContentTypes": [JSON], "SupportedResponseMIMETypes": [JSON],
                "SupportedRealtimeInferenceInstanceTypes": [s.endpoint_instance_type],
            },
            "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": JSON, "S3Uri": properties["MetricsUri"]}}},
            "CustomerMetadataProperties": {k: v[:PROPERTY_LIMIT] for k, v in properties.items() if v},
        }
        if properties["TrainingJob"]:
            request["MetadataProperties"] = {"GeneratedBy": properties["TrainingJob"]}
        return request

    def update_status(self, model_name: str, version: int, status: str, note: str = "") -> ModelVersion:
        _check_status(status)
        arn = self._summary(model_name, version)["ModelPackageArn"]
        current = self._sm.describe_model_package(ModelPackageName=arn)
        # the note first: a version never shows its new status without the reason for it
        self._state.put_item(Item={"pk": "status-notes", "sk": f"{model_name}#{int(version):06d}",
                                   "model_name": model_name, "version": int(version), "note": note, "at": now_iso()})
        request = {"ModelPackageArn": arn, "ModelApprovalStatus": status,
                   # the whole map again: properties not sent may be dropped
                   "CustomerMetadataProperties": current.get("CustomerMetadataProperties", {})}
        if note:
            request["ApprovalDescription"] = note[:1024]
        self._sm.update_model_package(**request)
        return self.get(model_name, version)

    def record_deployment(self, model_name: str, version: int, endpoint: str, event: str, detail: str,
                          run: str) -> None:
        try:
            self._state.put_item(
                Item={"pk": "deployments", "sk": f"{model_name}#{int(version):06d}#{endpoint}#{event}#{run}",
                      "model_name": model_name, "version": int(version), "endpoint": endpoint, "event": event,
                      "detail": detail, "run": run, "at": now_iso()},
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # recorded by an earlier attempt
                raise

    # -- reads -----------------------------------------------------------------------
    def get(self, model_name: str, version: int) -> ModelVersion:
        return self._version(self._summary(model_name, version), self._status_notes(model_name))

    def list_versions(self, model_name: str | None = None) -> list[ModelVersion]:
        names = [model_name] if model_name else self._model_names()
        notes = self._status_notes(model_name)
        return [self._version(summary, notes) for name in names for summary in self._summaries(name).values()]

    def latest(self, model_name: str, status: str = APPROVED) -> ModelVersion | None:
        matching = list(self._summaries(model_name, status).values())
        return self._version(matching[-1], self._status_notes(model_name)) if matching else None

    def deployment_history(self, model_name: str | None = None) -> list[DeploymentEvent]:
        rows = [DeploymentEvent(model_name=i["model_name"], version=int(i["version"]), endpoint=i["endpoint"],
                                event=i["event"], detail=i["detail"], run=i["run"], at=i["at"])
                for i in self._state_items("deployments", model_name)]
        return sorted(rows, key=lambda r: (r["at"], r["model_name"], r["version"]))

    # -- SageMaker plumbing ----------------------------------------------------------
    @property
    def _state(self) -> Any:
        return self.clients.dynamodb.Table(self.settings.state_table)

    def _state_items(self, kind: str, model_name: str | None) -> list[dict]:
        """The state table's items of one kind (partition), of one model or all."""
        condition = Key("pk").eq(kind)
        if model_name:
            condition &= Key("sk").begins_with(f"{model_name}#")
        items, kwargs = [], {"KeyConditionExpression": condition, "ConsistentRead": True}
        while True:
            page = self._state.query(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _status_notes(self, model_name: str | None) -> dict[tuple[str, int], str]:
        return {(i["model_name"], int(i["version"])): i["note"] for i in self._state_items("status-notes", model_name)}

    def _ensure_group(self, model_name: str) -> None:
        try:
            self._sm.describe_model_package_group(ModelPackageGroupName=package_group(model_name))
        except ClientError as exc:
            if not not_found(exc):
                raise
            try:
                self._sm.create_model_package_group(
                    ModelPackageGroupName=package_group(model_name),
                    ModelPackageGroupDescription=f"Find Dining {model_name} model versions (findining-mlops)")
            except ClientError as exc:  # a concurrent registration created it first
                if "already exists" not in str(exc):
                    raise

    def _model_names(self) -> list[str]:
        """The catalog's models with a group in this environment: by exact group name, since
        another environment's prefix may extend this one's (``…-recommendation-dev``)."""
        models = _models_by_group()
        names, kwargs = [], {"NameContains": resource_prefix(), "MaxResults": 100}
        while True:
            page = self._sm.list_model_package_groups(**kwargs)
            names += [models[g["ModelPackageGroupName"]] for g in page["ModelPackageGroupSummaryList"]
                      if g["ModelPackageGroupName"] in models]
            if not page.get("NextToken"):
                return sorted(names)
            kwargs["NextToken"] = page["NextToken"]

    def _summaries(self, model_name: str, status: str | None = None) -> dict[int, dict]:
        """The group's ListModelPackages summaries by version, oldest first; {} for an unknown group."""
        kwargs = {"ModelPackageGroupName": package_group(model_name), "PaginationConfig": {"PageSize": 100}}
        if status:
            kwargs["ModelApprovalStatus"] = status
        try:
            summaries = [s for page in self._sm.get_paginator("list_model_packages").paginate(**kwargs)
                         for s in page["ModelPackageSummaryList"]]
        except ClientError as exc:
            if not_found(exc):
                return {}
            raise
        return {int(s["ModelPackageVersion"]): s
                for s in sorted(summaries, key=lambda s: int(s["ModelPackageVersion"]))}

    def _summary(self, model_name: str, version: int) -> dict:
        summary = self._summaries(model_name).get(int(version))
        if summary is None:
            raise RegistryError(f"model {model_name!r} has no version {version}")
        return summary

    def _find(self, model_name: str, idempotency_key: str) -> ModelVersion | None:
        """The version an earlier registration with this key created, if its package exists and is
        that registration's (an attempt that died before its package left only the record)."""
        try:
            version = read_json(self.store, registration_key(model_name, idempotency_key))["version"]
        except FileNotFoundError:
            return None
        summary = self._summaries(model_name).get(version)
        if summary is None:
            return None
        package = self._sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if package.get("CustomerMetadataProperties", {}).get("IdempotencyKey") != idempotency_property(idempotency_key):
            return None
        return self._version(package, self._status_notes(model_name))

    def _version(self, package: dict, notes: dict[tuple[str, int], str]) -> ModelVersion:
        """A version from its package's summary (or description: it has the same fields)."""
        model_name = package["ModelPackageGroupName"].removeprefix(f"{resource_prefix()}-")
        version = int(package["ModelPackageVersion"])
        artifact_key = model_artifact_key(model_name, version)
        created = package.get("CreationTime")
        return ModelVersion(
            model_name=model_name,
            version=version,
            status=package["ModelApprovalStatus"],
            artifact_key=artifact_key,
            artifact_uri=self.store.uri(artifact_key),
            metrics=self._document(registry_document_key(model_name, version, "metrics.json")),
            lineage=self._document(registry_document_key(model_name, version, "lineage.json")),
            created_at=created.isoformat(timespec="seconds") if isinstance(created, datetime) else str(created or ""),
            reason=package.get("ModelPackageDescription", ""),
            status_note=notes.get((model_name, version), ""),
            label=self._label(model_name, version),
        )

    def _label(self, model_name: str, version: int) -> str:
        return self._document(registry_document_key(model_name, version, "version.json")).get("label", "")

    def _document(self, key: str) -> dict:
        if key not in self._documents:
            try:
                self._documents[key] = read_json(self.store, key)
            except FileNotFoundError:  # a package made outside the pipeline: listed, without figures
                log.warning("model package document %s is missing", self.store.uri(key))
                return {}
        return self._documents[key]


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise RegistryError(f"approval status {status!r} is not one of {', '.join(APPROVAL_STATUSES)}")
