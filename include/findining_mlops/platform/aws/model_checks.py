"""Model checks on SageMaker: ``training.check`` in a processing job with network isolation.

Loading a model runs its pickled code, so the orchestrator never loads one: the check runs in
the prebuilt scikit-learn image under the training role, with no network (the container can
reach neither the internet, nor AWS APIs, nor the instance's credentials), in the stack's VPC,
with its volume and output encrypted by the stack's key.

A processing input names an S3 prefix, not an object version, so the exact version to check
is first copied (CopyObject with its VersionId) to ``checks/<name>/model.tar.gz``: an upload
overwritten meanwhile changes nothing the job reads.

The task's name is the job's name, as with training jobs: ``run`` describes it first, so a
retried task re-attaches to the job it started and a finished job's result is read again,
never re-run. What the job writes is as untrusted as the model (its code ran there): the
result is parsed as JSON of a bounded size, nothing else."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from typing import Any

from botocore.exceptions import ClientError

from findining_mlops.config.catalog import ModelSpec, all_models
from findining_mlops.config.settings import AwsSettings
from findining_mlops.errors import ModelCheckFailed, UnknownModelError
from findining_mlops.platform.aws.clients import AwsClients, error_code, not_found
from findining_mlops.platform.aws.source import image_uri, upload_source
from findining_mlops.platform.aws.store import S3ArtifactStore
from findining_mlops.platform.ports import COMPLETED, ModelCheckTask
from findining_mlops.store.layout import model_check_key

log = logging.getLogger(__name__)

CHECK_MODULE = "findining_mlops.training.check"
PROCESSING = "/opt/ml/processing"  # where SageMaker mounts a processing job's inputs and outputs
# local paths in the container: each input in its own folder, as SageMaker downloads an S3Prefix into it
MODEL, HOLDOUT, TASK, CODE = (f"{PROCESSING}/input/{name}" for name in ("model", "holdout", "task", "code"))
OUTPUT = f"{PROCESSING}/output"  # uploaded to checks/<name>/output/ when the job ends
# unpack the source bundle, let pip check what the image ships (its requirements.txt names no
# index), run the check; a check that wrote its verdict ends the job successfully, so the
# verdict ({"error": ...} included) is uploaded. Each entrypoint string is at most 256 characters.
ENTRYPOINT = ["/bin/sh", "-c",
              f"set -e; d={PROCESSING}; mkdir $d/src; cd $d/src; "
              "tar -xzf $d/input/code/sourcedir.tar.gz; python3 -m pip install -q -r requirements.txt; "
              f"PYTHONPATH=. python3 -m {CHECK_MODULE} $d/input/task/task.json || test -s $d/output/result.json"]
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
TERMINAL = (COMPLETED, "Failed", "Stopped")
PROVISIONING_SLACK_S = 900.0  # starting an instance and pulling the image, before the time limit counts
MAX_RUNTIME_S = 777_600  # ProcessingStoppingCondition's largest MaxRuntimeInSeconds
MAX_RESULT_BYTES = 16 * 1024**2  # as on the local backend: a CheckResult is a few KB
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


class SageMakerModelChecks:
    """:param poll_interval_s: the pause between two DescribeProcessingJob calls.
    :param provisioning_slack_s: how much longer than the time limit ``run`` waits for a job."""

    def __init__(self, clients: AwsClients, settings: AwsSettings, store: S3ArtifactStore, *,
                 poll_interval_s: float = 15.0, provisioning_slack_s: float = PROVISIONING_SLACK_S):
        self.clients = clients
        self.settings = settings
        self.store = store
        self.poll_interval_s = poll_interval_s
        self.provisioning_slack_s = provisioning_slack_s

    def run(self, task: ModelCheckTask, time_limit_s: float) -> dict:
        if not JOB_NAME.fullmatch(task.name):
            raise ValueError(f"model check name {task.name!r} is not a SageMaker job name "
                             "([a-zA-Z0-9-], at most 63 characters, no leading or trailing hyphen)")
        job = self.describe(task.name)
        if job is None:
            self._start(task, time_limit_s)
        else:
            log.info("model check job %s exists (%s): re-attaching", task.name, job["ProcessingJobStatus"])
        job = self._wait(task.name, time_limit_s + self.provisioning_slack_s)
        if job["ProcessingJobStatus"] != COMPLETED:
            raise ModelCheckFailed(_failure(task, job, time_limit_s))
        return self._result(task)

    def request(self, task: ModelCheckTask, time_limit_s: float) -> dict:
        """The ``CreateProcessingJob`` request of ``task``; ``run`` writes the inputs it names."""
        s = self.settings
        source = upload_source(self.store, _model_spec(task.package), s.sklearn_framework_version)
        inputs = {"model": (self.store.uri(model_check_key(task.name, "model.tar.gz")), MODEL),
                  "holdout": (self.store.uri(task.holdout_prefix.rstrip("/") + "/"), HOLDOUT),
                  "task": (self.store.uri(model_check_key(task.name, "task.json")), TASK),
                  "code": (source, CODE)}
        return {
            "ProcessingJobName": task.name,
            "RoleArn": s.training_role_arn,
            "AppSpecification": {"ImageUri": image_uri(s.region, s.sklearn_framework_version, "training"),
                                 "ContainerEntrypoint": ENTRYPOINT},
            "ProcessingInputs": [
                {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": local,
                                                "S3DataType": "S3Prefix", "S3InputMode": "File",
                                                "S3DataDistributionType": "FullyReplicated"}}
                for name, (uri, local) in inputs.items()],
            "ProcessingOutputConfig": {
                "Outputs": [{"OutputName": "result", "S3Output": {
                    "S3Uri": self.store.uri(model_check_key(task.name, "output")), "LocalPath": OUTPUT,
                    "S3UploadMode": "EndOfJob"}}],
                "KmsKeyId": s.kms_key_arn},
            "ProcessingResources": {"ClusterConfig": {
                "InstanceCount": 1, "InstanceType": s.training_instance_type,
                "VolumeSizeInGB": s.training_volume_gb, "VolumeKmsKeyId": s.kms_key_arn}},
            "NetworkConfig": {"EnableNetworkIsolation": True, "VpcConfig": {
                "Subnets": list(s.subnet_ids), "SecurityGroupIds": list(s.security_group_ids)}},
            "StoppingCondition": {"MaxRuntimeInSeconds": min(max(1, math.ceil(time_limit_s)), MAX_RUNTIME_S)},
            "Environment": {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"},
            "Tags": [{"Key": "findining:model-check", "Value": task.package}],
        }

    def describe(self, name: str) -> dict | None:
        try:
            return self.clients.sagemaker.describe_processing_job(ProcessingJobName=name)
        except ClientError as exc:
            if not_found(exc):
                return None
            raise

    def _start(self, task: ModelCheckTask, time_limit_s: float) -> None:
        request = self.request(task, time_limit_s)
        self._copy_checked_version(task)
        self.store.write_bytes(model_check_key(task.name, "task.json"), json.dumps({
            "archive": f"{MODEL}/model.tar.gz", "model_dir": f"{PROCESSING}/model", "package": task.package,
            "smoke_request": task.smoke_request, "holdout": HOLDOUT, "result": f"{OUTPUT}/result.json",
        }, indent=1).encode())
        try:
            self.clients.sagemaker.create_processing_job(**request)
        except ClientError as exc:
            # a concurrent starter created it between our describe and create: that one runs it
            if error_code(exc) != "ResourceInUse" and "unique" not in str(exc).lower():
                raise
        log.info("started model check job %s of %s", task.name, self.store.uri(task.artifact_key))

    def _copy_checked_version(self, task: ModelCheckTask) -> None:
        source: dict[str, Any] = {"Bucket": self.store.bucket, "Key": task.artifact_key}
        if task.artifact_version_id:
            source["VersionId"] = task.artifact_version_id
        try:
            self.clients.s3.copy_object(Bucket=self.store.bucket, Key=model_check_key(task.name, "model.tar.gz"),
                                        CopySource=source, ServerSideEncryption="aws:kms",
                                        SSEKMSKeyId=self.settings.kms_key_arn)
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "NoSuchVersion", "404"):
                which = f"version {task.artifact_version_id} of " if task.artifact_version_id else ""
                raise FileNotFoundError(f"no object at {which}{self.store.uri(task.artifact_key)}") from exc
            raise

    def _wait(self, name: str, wait_s: float) -> dict:
        deadline = time.monotonic() + wait_s
        while True:
            job = self.describe(name)
            if job is None:
                raise RuntimeError(f"SageMaker does not know the processing job {name} it was asked to create")
            if job["ProcessingJobStatus"] in TERMINAL:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"model check job {name} is still {job['ProcessingJobStatus']} after {wait_s:.0f} s "
                                   "(its time limit plus provisioning); running the check again re-attaches to it")
            time.sleep(self.poll_interval_s)

    def _result(self, task: ModelCheckTask) -> dict:
        """``result.json`` as the job wrote it: JSON of a bounded size, a verdict or a CheckResult."""
        name, key = task.name, model_check_key(task.name, "output/result.json")
        try:
            response = self.clients.s3.get_object(Bucket=self.store.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                raise ModelCheckFailed(f"left no result in SageMaker processing job {name} "
                                       f"({self.store.uri(key)} is missing)") from exc
            raise
        if response["ContentLength"] > MAX_RESULT_BYTES:
            raise ModelCheckFailed(f"left a result of {response['ContentLength']} bytes in SageMaker processing job "
                                   f"{name}, more than a check result's {MAX_RESULT_BYTES}")
        try:
            result = json.loads(response["Body"].read())
        except (ValueError, RecursionError) as exc:
            raise ModelCheckFailed(f"left a result that is not JSON in SageMaker processing job {name}: {exc}") from exc
        if isinstance(result, dict) and "error" in result:
            raise ModelCheckFailed(str(result["error"]))
        if not (isinstance(result, dict) and isinstance(result.get("metrics"), dict)
                and isinstance(result.get("files"), list)
                and (task.smoke_request is None or "smoke_response" in result)):
            raise ModelCheckFailed(f"left a result in SageMaker processing job {name} that is not a check result "
                                   "(metrics, files and the smoke response)")
        return result


def _failure(task: ModelCheckTask, job: dict, time_limit_s: float) -> str:
    """Why a job that did not complete failed, as a verdict on the model (``<artifact> <message>``)."""
    where = f"SageMaker processing job {task.name} (logs: CloudWatch {LOG_GROUP}, streams {task.name}/*)"
    if job["ProcessingJobStatus"] == "Stopped" and not job.get("FailureReason"):
        # SageMaker stops a job at its MaxRuntimeInSeconds and gives no reason
        return (f"was stopped: unpacking, loading{', one smoke request' if task.smoke_request else ''} and the "
                f"evaluation did not finish within the time limit of {time_limit_s:g} s in {where}")
    reason = job.get("FailureReason") or "no reason given"
    return f"crashed its check in {where}: {job['ProcessingJobStatus']}, {reason}"


def _model_spec(package: str) -> ModelSpec:
    """A catalog model of ``package``: its source bundle holds the package's code."""
    spec = next((spec for spec in all_models().values() if spec.package == package), None)
    if spec is None:
        raise UnknownModelError(f"no model of the catalog has the package {package!r}")
    return spec
