"""What moto does not do, done the way SageMaker does it, for tests:

- ``runs_training_jobs``: moto records a training job as Completed but runs nothing. Here
  a job is ``InProgress`` until it has run: once its creator has described it (so the
  caller reliably sees it running, as on SageMaker), a background thread runs the job's
  entry point locally (the local backend's runner, same SageMaker contract) on the job's
  S3 channels, puts ``model.tar.gz`` where SageMaker writes it,
  ``<S3OutputPath>/<job>/output/model.tar.gz``, and marks the job Completed (or Failed).
- ``updates_endpoints``: moto has no ``UpdateEndpoint``; this switches the endpoint to the
  new config's variants in moto's own state, as a successful update does — at once, or
  after ``describes`` DescribeEndpoint calls that see it ``Updating`` (an update takes
  SageMaker minutes; counting calls instead of seconds keeps tests deterministic). (The
  request shape is checked against the service model with botocore's Stubber in
  test_endpoints.)"""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path

import boto3
from aws_stack import REGION


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run_training_job_locally(request: dict) -> None:
    from findining_mlops.config.catalog import get_model
    from findining_mlops.platform.local.store import LocalArtifactStore
    from findining_mlops.platform.local.training_runner import run

    s3 = boto3.client("s3", region_name=REGION)
    hyperparameters = {k: json.loads(v) for k, v in request["HyperParameters"].items()
                       if not k.startswith("sagemaker_")}
    spec = get_model(request["Environment"]["FINDINING_MODEL_NAME"])
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalArtifactStore(Path(tmp) / "store")
        channels = {}
        for channel in request["InputDataConfig"]:
            bucket, prefix = _split(channel["DataSource"]["S3DataSource"]["S3Uri"])
            if channel["ChannelName"] == "code":  # script mode's source bundle: SageMaker fails a job without it
                s3.head_object(Bucket=bucket, Key=prefix)
                continue
            for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
                store.write_bytes(item["Key"], s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            channels[channel["ChannelName"]] = prefix
        job_dir = Path(tmp) / "job"
        job_dir.mkdir()
        (job_dir / "spec.json").write_text(json.dumps({
            "name": request["TrainingJobName"], "model_name": spec.name, "entry_point": spec.training_module,
            "hyperparameters": hyperparameters, "channels": channels, "output_prefix": "output"}))
        result = run(job_dir, store)
        assert result["status"] == "Completed", result.get("failure_reason")
        bucket, prefix = _split(request["OutputDataConfig"]["S3OutputPath"])
        s3.put_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{request['TrainingJobName']}/output/model.tar.gz",
                      Body=store.read_bytes(result["model_artifact_key"]))


def runs_training_jobs(monkeypatch) -> list[dict]:
    """Every CreateTrainingJob moto receives runs locally, in the background, once the job
    has been described; returns the requests seen. The model checks that evaluate what a job
    trained (processing jobs) run locally too."""
    from moto.sagemaker.responses import SageMakerResponse
    from processing_emulation import runs_processing_jobs

    runs_processing_jobs(monkeypatch)

    seen: list[dict] = []
    described: dict[str, threading.Event] = {}
    create, describe = SageMakerResponse.create_training_job, SageMakerResponse.describe_training_job

    def create_and_run(self):
        result = create(self)
        request = json.loads(self.body)
        seen.append(request)
        job = self.sagemaker_backend.training_jobs[request["TrainingJobName"]]
        job.training_job_status = "InProgress"
        described[job.training_job_name] = threading.Event()

        def train() -> None:
            described[job.training_job_name].wait()
            try:
                run_training_job_locally(request)
                job.training_job_status = "Completed"
            except Exception as exc:  # what SageMaker would report
                job.training_job_status, job.failure_reason = "Failed", f"AlgorithmError: {exc}"

        threading.Thread(target=train, name=f"training-job-{job.training_job_name}", daemon=True).start()
        return result

    def describe_and_release(self):
        result = describe(self)
        event = described.get(self._get_param("TrainingJobName"))
        if event is not None:
            event.set()
        return result

    monkeypatch.setattr(SageMakerResponse, "create_training_job", create_and_run)
    monkeypatch.setattr(SageMakerResponse, "describe_training_job", describe_and_release)
    return seen


def updates_endpoints(monkeypatch, describes: int = 0) -> list[dict]:
    """Adds UpdateEndpoint to moto (a successful update, applied after ``describes``
    DescribeEndpoint calls that see the endpoint ``Updating``); returns the requests seen."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.models import FakeEndpoint
    from moto.sagemaker.responses import SageMakerResponse

    seen: list[dict] = []
    updating: dict[str, list] = {}  # endpoint -> [describes left, config]
    describe = SageMakerResponse.describe_endpoint

    def apply(endpoint, config) -> None:
        endpoint.endpoint_config_name = config.endpoint_config_name
        endpoint.production_variants = FakeEndpoint._process_production_variants(endpoint, config.production_variants)
        endpoint.data_capture_config = config.data_capture_config
        endpoint.endpoint_status = "InService"

    def update_endpoint(self):
        request = json.loads(self.body)
        seen.append(request)
        backend = self.sagemaker_backend
        endpoint = backend.endpoints[request["EndpointName"]]
        config = backend.endpoint_configs[request["EndpointConfigName"]]
        if describes:
            endpoint.endpoint_status = "Updating"
            updating[endpoint.endpoint_name] = [describes, config]
        else:
            apply(endpoint, config)
        return ActionResult({"EndpointArn": endpoint.arn})

    def describe_endpoint(self):
        name = self._get_param("EndpointName")
        if name in updating:
            updating[name][0] -= 1
            if updating[name][0] < 0:
                apply(self.sagemaker_backend.endpoints[name], updating.pop(name)[1])
        return describe(self)

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    monkeypatch.setattr(SageMakerResponse, "describe_endpoint", describe_endpoint)
    return seen
