"""Training jobs on SageMaker: the model's entry point in the prebuilt scikit-learn
container, script mode.

The job name is the identity, as on the local backend: ``start`` describes the name first
and returns a job that exists in any state, so a retried task re-attaches and never starts
a second job (the provider's own operator appends a timestamp to the name and would).

A job runs with network isolation, as the training role, in the private subnets, its volume
and output encrypted with the stack's key: the entry point reads its channels from
``/opt/ml/input/data`` and writes its model to ``/opt/ml/model``, and needs nothing else. With
no network the container cannot fetch script mode's source bundle from S3 itself, so the
bundle is one more input channel (``code``) that SageMaker downloads for it."""

from __future__ import annotations

import io
import json
import logging
import tarfile
from typing import Any

from botocore.exceptions import ClientError

from findining_mlops.config.catalog import get_model
from findining_mlops.config.settings import AwsSettings
from findining_mlops.models import contract
from findining_mlops.platform.aws.clients import AwsClients, error_code, not_found
from findining_mlops.platform.aws.source import (
    CODE_CHANNEL,
    TRAIN_PROGRAM,
    TRAINING_SUBMIT_DIRECTORY,
    image_uri,
    upload_source,
)
from findining_mlops.platform.aws.store import S3ArtifactStore
from findining_mlops.platform.ports import COMPLETED, IN_PROGRESS, TrainingJob, TrainingJobSpec

log = logging.getLogger(__name__)
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
PARQUET = "application/x-parquet"


class SageMakerTrainingJobs:
    def __init__(self, clients: AwsClients, settings: AwsSettings, store: S3ArtifactStore):
        self.clients = clients
        self.settings = settings
        self.store = store
        self._metrics: dict[str, dict] = {}  # a completed job's evaluation never changes

    def start(self, spec: TrainingJobSpec) -> TrainingJob:
        existing = self.describe(spec.name)
        if existing is not None:
            log.info("training job %s exists (%s): re-attaching", spec.name, existing.status)
            return existing
        try:
            self.clients.sagemaker.create_training_job(**self.request(spec))
        except ClientError as exc:
            # a concurrent starter created it between our describe and create: that one runs it
            if error_code(exc) != "ResourceInUse" and "unique" not in str(exc).lower():
                raise
        return self.describe(spec.name) or TrainingJob(spec.name, IN_PROGRESS, None)

    def request(self, spec: TrainingJobSpec) -> dict:
        """The ``CreateTrainingJob`` request: script mode's hyperparameters are JSON-encoded strings."""
        s = self.settings
        source = upload_source(self.store, get_model(spec.model_name), s.sklearn_framework_version)
        hyperparameters = {name: json.dumps(value) for name, value in sorted(spec.hyperparameters.items())}
        hyperparameters.update(sagemaker_program=json.dumps(TRAIN_PROGRAM),
                               sagemaker_submit_directory=json.dumps(TRAINING_SUBMIT_DIRECTORY),
                               sagemaker_region=json.dumps(s.region), sagemaker_container_log_level=json.dumps(20))
        request: dict[str, Any] = {
            "TrainingJobName": spec.name,
            "AlgorithmSpecification": {"TrainingImage": image_uri(s.region, s.sklearn_framework_version, "training"),
                                       "TrainingInputMode": "File"},
            "RoleArn": s.training_role_arn,
            "HyperParameters": hyperparameters,
            "InputDataConfig": [
                {"ChannelName": channel, "ContentType": PARQUET, "InputMode": "File",
                 "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated",
                                                 "S3Uri": self.store.uri(prefix.rstrip("/") + "/")}}}
                for channel, prefix in sorted(spec.channels.items())
            ] + [{"ChannelName": CODE_CHANNEL, "InputMode": "File",
                  "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated",
                                                  "S3Uri": source}}}],
            "OutputDataConfig": {"S3OutputPath": self.store.uri(spec.output_prefix.rstrip("/")),
                                 "KmsKeyId": s.kms_key_arn},
            "ResourceConfig": {"InstanceType": s.training_instance_type, "InstanceCount": 1,
                               "VolumeSizeInGB": s.training_volume_gb, "VolumeKmsKeyId": s.kms_key_arn},
            "VpcConfig": {"Subnets": list(s.subnet_ids), "SecurityGroupIds": list(s.security_group_ids)},
            "EnableNetworkIsolation": True,
            "StoppingCondition": {"MaxRuntimeInSeconds": s.training_max_runtime_s},
            "Environment": {"FINDINING_MODEL_NAME": spec.model_name},
            "Tags": [{"Key": "findining:model", "Value": spec.model_name}],
        }
        return request

    def describe(self, name: str) -> TrainingJob | None:
        try:
            job = self.clients.sagemaker.describe_training_job(TrainingJobName=name)
        except ClientError as exc:
            if not_found(exc):
                return None
            raise
        status = job["TrainingJobStatus"]
        key = None
        if status == COMPLETED:
            key = self.store_key(job["ModelArtifacts"]["S3ModelArtifacts"])
        return TrainingJob(
            name=name,
            status=status,
            model_artifact_key=key,
            failure_reason=job.get("FailureReason"),
            metrics=self._evaluation(name, key) if key else {},
            log_uri=(f"https://{self.settings.region}.console.aws.amazon.com/cloudwatch/home?region="
                     f"{self.settings.region}#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FTrainingJobs"
                     f"$3FlogStreamNameFilter$3D{name}"),
        )

    def logs(self, name: str) -> str:
        """The job's CloudWatch log lines (all of its streams, oldest first)."""
        lines, kwargs = [], {"logGroupName": LOG_GROUP, "logStreamNamePrefix": f"{name}/"}
        try:
            while True:
                page = self.clients.logs.filter_log_events(**kwargs)
                lines += [event["message"] for event in page["events"]]
                if not page.get("nextToken"):
                    return "\n".join(lines)
                kwargs["nextToken"] = page["nextToken"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":  # no job has logged in this account yet
                return ""
            raise

    def store_key(self, uri: str) -> str:
        prefix = f"s3://{self.store.bucket}/"
        if not uri.startswith(prefix):
            raise ValueError(f"{uri} is outside the pipeline's bucket {self.store.bucket}")
        return uri[len(prefix):]

    def _evaluation(self, name: str, key: str) -> dict:
        """The figures the entry point wrote next to the model (``evaluation.json`` in model.tar.gz)."""
        if name not in self._metrics:
            try:
                data = self.store.read_bytes(key)
            except FileNotFoundError:  # registration names the missing artifact
                log.warning("training job %s is Completed but %s is missing", name, self.store.uri(key))
                return {}
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                member = next((m for m in tar.getmembers() if m.name.lstrip("./") == contract.EVALUATION_FILE), None)
                handle = tar.extractfile(member) if member else None
                self._metrics[name] = json.loads(handle.read()) if handle else {}
        return self._metrics[name]

