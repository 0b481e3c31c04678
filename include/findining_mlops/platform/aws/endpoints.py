"""SageMaker endpoints with weighted production variants and data capture.

``deploy`` creates one SageMaker model per variant and one endpoint config per set of
variants, both named by a hash of what they hold, so re-applying a step changes nothing.
After an update the endpoint is waited for and checked: SageMaker rolls a failed update
back and reports ``InService`` again, on the *old* config — that is an EndpointError, not a
success. ``deploy(..., wait=False)`` only submits: ``settle``, called again later (from the
canary bake sensor, in reschedule mode), does the check once the endpoint is in service.
Data capture goes to ``s3://<bucket>/datacapture``, which SageMaker lays out as
``datacapture/<endpoint>/<variant>/YYYY/MM/DD/HH/*.jsonl`` (``findining_mlops.store.layout``).
Per-variant metrics are SageMaker's own, so ``flush`` has nothing to do. Each variant served
gets its alarms and its auto-scaling (``scaling``) once the endpoint serves it; before an
update the variants stop scaling, since SageMaker refuses to retire a scaled one.

A model runs with network isolation, as the serving role, in the private subnets: the container
reaches nothing, and its role may write data capture only. SageMaker itself hands it the
artifact and, as an additional model data source, the unpacked source bundle
(``source.SERVING_SUBMIT_DIRECTORY``), which the container could not fetch itself."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError, WaiterError
from botocore.exceptions import ConnectionError as BotoConnectionError

from findining_mlops.config.catalog import all_models, get_model, resource_prefix
from findining_mlops.config.settings import AwsSettings
from findining_mlops.errors import EndpointError
from findining_mlops.platform.aws import alarms, scaling
from findining_mlops.platform.aws.clients import AwsClients, error_code, not_found
from findining_mlops.platform.aws.dynamodb import Lock
from findining_mlops.platform.aws.registry import serving_environment
from findining_mlops.platform.aws.source import CODE_CHANNEL, SERVING_SUBMIT_DIRECTORY, image_uri, upload_source
from findining_mlops.platform.aws.store import S3ArtifactStore
from findining_mlops.platform.ports import (
    ENDPOINT_CHANGING,
    IN_SERVICE,
    Endpoint,
    Invocation,
    ProductionVariant,
    check_variants,
    check_weights,
)

MAX_NAME = 63
WAIT = {"Delay": 30, "MaxAttempts": 120}  # an endpoint update takes minutes; up to an hour


def _name(base: str, payload: str) -> str:
    """``<base>-<hash>`` within SageMaker's 63 characters."""
    digest = hashlib.sha256(payload.encode()).hexdigest()[:10]
    return f"{base[: MAX_NAME - 11].rstrip('-')}-{digest}"


class SageMakerEndpoints:
    def __init__(self, clients: AwsClients, settings: AwsSettings, store: S3ArtifactStore, wait: dict | None = None):
        self.clients = clients
        self.settings = settings
        self.store = store
        self.wait = wait or WAIT

    @property
    def _sm(self) -> Any:
        return self.clients.sagemaker

    # -- control plane ---------------------------------------------------------------
    def deploy(self, endpoint_name: str, variants: list[ProductionVariant], *, wait: bool = True) -> Endpoint:
        check_variants(endpoint_name, variants)
        models = {v.variant_name: self._ensure_model(v) for v in variants}
        config = self._ensure_config(endpoint_name, variants, models)
        current = self._describe_raw(endpoint_name)
        if current is None:
            self._sm.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=config,
                                     Tags=[{"Key": "findining:managed", "Value": "true"}])
        else:
            if current["EndpointStatus"] != IN_SERVICE:  # an earlier change still runs: SageMaker takes one at a time
                current = self._wait(endpoint_name)
            if current["EndpointConfigName"] != config:
                # SageMaker refuses an update that retires a scaled variant or changes its instance type;
                # scaling waits during an update anyway, and settle registers the served variants again
                scaling.stop_scaling(self.clients, endpoint_name,
                                     sorted(scaling.scaled_variants(self.clients, endpoint_name)))
                self._sm.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config)
        settled = self.settle(endpoint_name, variants)
        while settled is None and wait:
            self._wait(endpoint_name)
            settled = self.settle(endpoint_name, variants)
        return settled or self._require(endpoint_name)

    def settle(self, endpoint_name: str, variants: list[ProductionVariant]) -> Endpoint | None:
        """Checks by the variants served, not by config name: after ``update_weights`` the
        endpoint keeps its config while the weights asked for differ from the config's."""
        raw = self._describe_raw(endpoint_name)
        if raw is None:
            raise EndpointError(f"endpoint {endpoint_name} does not exist")
        if raw["EndpointStatus"] in ENDPOINT_CHANGING:
            return None
        if raw["EndpointStatus"] != IN_SERVICE:
            raise EndpointError(f"endpoint {endpoint_name} is {raw['EndpointStatus']}: "
                                f"{raw.get('FailureReason') or 'no reason given'}")
        served = {(v.variant_name, v.model_version, v.artifact_uri) for v in self._require(endpoint_name).variants}
        if served != {(v.variant_name, v.model_version, v.artifact_uri) for v in variants}:
            raise EndpointError(
                f"endpoint {endpoint_name} is {IN_SERVICE} on {raw['EndpointConfigName']} serving "
                f"{sorted(name for name, *_ in served)}, not {[v.variant_name for v in variants]}: SageMaker rolled "
                f"the update back ({raw.get('FailureReason') or 'no reason given'})")
        wanted = {v.variant_name: float(v.weight) for v in variants}
        if _weights(raw) != wanted:  # a new config's weights, or weights moved since by update_weights
            self._set_weights(endpoint_name, wanted, raw)
            if self._require_raw(endpoint_name)["EndpointStatus"] in ENDPOINT_CHANGING:
                return None
        for name in wanted:
            alarms.put_variant_alarms(self.clients, endpoint_name, name, self.settings.alerts_topic_arn)
            scaling.scale_variant(self.clients, self.settings, endpoint_name, name)
        alarms.delete_variant_alarms(self.clients, endpoint_name,
                                     sorted(alarms.alarmed_variants(self.clients, endpoint_name) - set(wanted)))
        scaling.stop_scaling(self.clients, endpoint_name,
                             sorted(scaling.scaled_variants(self.clients, endpoint_name) - set(wanted)))
        return self.describe(endpoint_name)

    def update_weights(self, endpoint_name: str, weights: dict[str, float], *, wait: bool = True) -> Endpoint:
        current = self._describe_raw(endpoint_name)
        if current is None:
            raise EndpointError(f"endpoint {endpoint_name} does not exist")
        live = _weights(current)
        unknown = set(weights) - set(live)
        if unknown:
            raise EndpointError(f"endpoint {endpoint_name} has no variant(s) {sorted(unknown)}; it has {sorted(live)}")
        merged = {name: float(weights.get(name, weight)) for name, weight in live.items()}
        check_weights(endpoint_name, merged)
        if merged != live:
            self._set_weights(endpoint_name, merged, current)
            if wait:
                self._wait(endpoint_name)
        return self._require(endpoint_name)

    def describe(self, endpoint_name: str) -> Endpoint | None:
        raw = self._describe_raw(endpoint_name)
        if raw is None:
            return None
        config = self._sm.describe_endpoint_config(EndpointConfigName=raw["EndpointConfigName"])
        weights = _weights(raw)
        variants = []
        for entry in config["ProductionVariants"]:
            env = self._sm.describe_model(ModelName=entry["ModelName"])["PrimaryContainer"].get("Environment", {})
            variants.append(ProductionVariant(
                variant_name=entry["VariantName"], model_name=env.get("FINDINING_MODEL_NAME", ""),
                model_version=int(env.get("FINDINING_MODEL_VERSION", 0)),
                artifact_uri=env.get("FINDINING_ARTIFACT_URI", ""),
                weight=weights.get(entry["VariantName"], float(entry.get("InitialVariantWeight", 0.0)))))
        updated = raw.get("LastModifiedTime")
        return Endpoint(endpoint_name, raw["EndpointStatus"], raw["EndpointConfigName"], tuple(variants),
                        updated.isoformat(timespec="milliseconds") if isinstance(updated, datetime) else str(updated))

    def list_endpoints(self) -> list[Endpoint]:
        """This environment's endpoints of the catalog's models: by exact name, since another
        environment's prefix may extend this one's (``…-recommendation-dev``)."""
        ours = {spec.endpoint_name for spec in all_models().values()}
        names, kwargs = [], {"NameContains": resource_prefix(), "MaxResults": 100}
        while True:
            page = self._sm.list_endpoints(**kwargs)
            names += [e["EndpointName"] for e in page["Endpoints"] if e["EndpointName"] in ours]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return [e for e in (self.describe(n) for n in sorted(names)) if e is not None]

    def acquire_deployment_lock(self, endpoint_name: str, owner: str) -> str | None:
        return Lock(self.clients, self.settings.state_table, f"deployment#{endpoint_name}").acquire(owner)

    def release_deployment_lock(self, endpoint_name: str, owner: str) -> None:
        Lock(self.clients, self.settings.state_table, f"deployment#{endpoint_name}").release(owner)

    # -- data plane ------------------------------------------------------------------
    def invoke(self, endpoint_name: str, body: bytes, *, content_type: str = "application/json",
               target_variant: str | None = None, inference_id: str | None = None,
               event_time: datetime | None = None, timeout_s: float | None = None) -> Invocation:
        """``InvokeEndpoint``; ``event_time`` is ignored: SageMaker stamps capture with its own clock."""
        inference_id = inference_id or str(uuid.uuid4())
        request = {"EndpointName": endpoint_name, "Body": body, "ContentType": content_type,
                   "Accept": "application/json", "InferenceId": inference_id[:64]}
        if target_variant:
            request["TargetVariant"] = target_variant
        started = time.perf_counter()
        try:
            runtime = (self.clients.sagemaker_runtime if timeout_s is None
                       else self.clients.sagemaker_runtime_within(timeout_s))
            response = runtime.invoke_endpoint(**request)
        except ClientError as exc:
            raise EndpointError(f"{error_code(exc)}: {endpoint_name} failed on inference {inference_id}: "
                                f"{exc}") from exc
        except (BotoConnectionError, HTTPClientError) as exc:  # the connect and read time-outs among them
            raise EndpointError(f"ServiceUnavailable: {endpoint_name} did not answer inference {inference_id}: "
                                f"{exc}") from exc
        latency_ms = (time.perf_counter() - started) * 1000
        return Invocation(response["Body"].read(), response.get("ContentType", "application/json"),
                          response.get("InvokedProductionVariant", target_variant or ""), inference_id, latency_ms)

    def flush(self) -> None:
        """SageMaker records Invocations, Invocation5XXErrors and ModelLatency itself."""

    # -- plumbing --------------------------------------------------------------------
    def _ensure_model(self, variant: ProductionVariant) -> str:
        """A SageMaker model for the variant's artifact, created once (named by its content)."""
        s = self.settings
        source = upload_source(self.store, get_model(variant.model_name), s.sklearn_framework_version)
        env = {**serving_environment(source, s.region), "SAGEMAKER_SUBMIT_DIRECTORY": SERVING_SUBMIT_DIRECTORY,
               "FINDINING_MODEL_NAME": variant.model_name, "FINDINING_MODEL_VERSION": str(variant.model_version),
               "FINDINING_ARTIFACT_URI": variant.artifact_uri}
        code = {"ChannelName": CODE_CHANNEL,
                "S3DataSource": {"S3Uri": source, "S3DataType": "S3Object", "CompressionType": "Gzip"}}
        container = {"Image": image_uri(s.region, s.sklearn_framework_version, "inference"),
                     "ModelDataUrl": variant.artifact_uri, "AdditionalModelDataSources": [code], "Environment": env}
        name = _name(f"{resource_prefix()}-{variant.variant_name}", json.dumps(container, sort_keys=True))
        try:
            self._sm.describe_model(ModelName=name)
            return name
        except ClientError as exc:
            if not not_found(exc):
                raise
        self._sm.create_model(
            ModelName=name, PrimaryContainer=container, ExecutionRoleArn=s.serving_role_arn,
            VpcConfig={"Subnets": list(s.subnet_ids), "SecurityGroupIds": list(s.security_group_ids)},
            EnableNetworkIsolation=True,
            Tags=[{"Key": "findining:model", "Value": variant.model_name},
                  {"Key": "findining:version", "Value": str(variant.model_version)}])
        return name

    def _ensure_config(self, endpoint_name: str, variants: list[ProductionVariant], models: dict[str, str]) -> str:
        s = self.settings
        request: dict[str, Any] = {
            "ProductionVariants": [
                {"VariantName": v.variant_name, "ModelName": models[v.variant_name],
                 "InitialVariantWeight": float(v.weight),
                 "InitialInstanceCount": s.endpoint_instance_count, "InstanceType": s.endpoint_instance_type}
                for v in variants
            ],
            "DataCaptureConfig": {
                "EnableCapture": True, "InitialSamplingPercentage": s.capture_percent,
                "DestinationS3Uri": self.store.uri("datacapture"),
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
                "KmsKeyId": s.kms_key_arn,
            },
            "KmsKeyId": s.kms_key_arn,
        }
        name = _name(endpoint_name, json.dumps(request, sort_keys=True))
        try:
            self._sm.describe_endpoint_config(EndpointConfigName=name)
        except ClientError as exc:
            if not not_found(exc):
                raise
            self._sm.create_endpoint_config(EndpointConfigName=name, **request)
        return name

    def _set_weights(self, endpoint_name: str, weights: dict[str, float], current: dict) -> None:
        counts = {v["VariantName"]: v.get("CurrentInstanceCount") or self.settings.endpoint_instance_count
                  for v in current.get("ProductionVariants", [])}
        self._sm.update_endpoint_weights_and_capacities(EndpointName=endpoint_name, DesiredWeightsAndCapacities=[
            {"VariantName": name, "DesiredWeight": weight,
             "DesiredInstanceCount": counts.get(name, self.settings.endpoint_instance_count)}
            for name, weight in sorted(weights.items())])

    def _wait(self, endpoint_name: str) -> dict:
        try:
            self._sm.get_waiter("endpoint_in_service").wait(EndpointName=endpoint_name, WaiterConfig=self.wait)
        except WaiterError as exc:
            raw = self._describe_raw(endpoint_name) or {}
            raise EndpointError(f"endpoint {endpoint_name} did not come into service: {raw.get('EndpointStatus')} "
                                f"({raw.get('FailureReason') or exc})") from exc
        return self._require_raw(endpoint_name)

    def _require(self, endpoint_name: str) -> Endpoint:
        endpoint = self.describe(endpoint_name)
        if endpoint is None:
            raise EndpointError(f"endpoint {endpoint_name} does not exist")
        return endpoint

    def _require_raw(self, endpoint_name: str) -> dict:
        raw = self._describe_raw(endpoint_name)
        if raw is None:
            raise EndpointError(f"endpoint {endpoint_name} does not exist")
        return raw

    def _describe_raw(self, endpoint_name: str) -> dict | None:
        try:
            return self._sm.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as exc:
            if not_found(exc):
                return None
            raise


def _weights(raw: dict) -> dict[str, float]:
    return {v["VariantName"]: float(v.get("CurrentWeight", v.get("DesiredWeight", 0.0)))
            for v in raw.get("ProductionVariants", [])}


