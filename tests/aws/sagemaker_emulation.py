"""What moto does not do, done the way SageMaker does it, for tests:

- ``runs_training_jobs``: moto records a training job as Completed but runs nothing. This
  runs the job's entry point locally (the local backend's runner, same SageMaker contract)
  on the job's S3 channels and puts ``model.tar.gz`` where SageMaker writes it:
  ``<S3OutputPath>/<job>/output/model.tar.gz``.
- ``updates_endpoints``: moto has no ``UpdateEndpoint``; this switches the endpoint to the
  new config's variants in moto's own state, as a successful update does. (The request
  shape is checked against the service model with botocore's Stubber in test_endpoints.)"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import boto3

from aws_stack import REGION


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run_training_job_locally(request: dict) -> None:
    from findining_mlops.catalog import get_model
    from findining_mlops.platform.local.store import LocalArtifactStore
    from findining_mlops.platform.local.training_runner import run

    s3 = boto3.client("s3", region_name=REGION)
    hyperparameters = {k: json.loads(v) for k, v in request["HyperParameters"].items() if not k.startswith("sagemaker_")}
    spec = get_model(request["Environment"]["FINDINING_MODEL_NAME"])
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalArtifactStore(Path(tmp) / "store")
        channels = {}
        for channel in request["InputDataConfig"]:
            bucket, prefix = _split(channel["DataSource"]["S3DataSource"]["S3Uri"])
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
    """Every CreateTrainingJob moto receives is run locally; returns the requests seen."""
    from moto.sagemaker.responses import SageMakerResponse

    seen: list[dict] = []
    create = SageMakerResponse.create_training_job

    def create_and_run(self):
        result = create(self)
        request = json.loads(self.body)
        seen.append(request)
        run_training_job_locally(request)
        return result

    monkeypatch.setattr(SageMakerResponse, "create_training_job", create_and_run)
    return seen


def updates_endpoints(monkeypatch) -> list[dict]:
    """Adds UpdateEndpoint to moto (a successful update); returns the requests seen."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.models import FakeEndpoint
    from moto.sagemaker.responses import SageMakerResponse

    seen: list[dict] = []

    def update_endpoint(self):
        request = json.loads(self.body)
        seen.append(request)
        backend = self.sagemaker_backend
        endpoint = backend.endpoints[request["EndpointName"]]
        config = backend.endpoint_configs[request["EndpointConfigName"]]
        endpoint.endpoint_config_name = config.endpoint_config_name
        endpoint.production_variants = FakeEndpoint._process_production_variants(endpoint, config.production_variants)
        endpoint.data_capture_config = config.data_capture_config
        return ActionResult({"EndpointArn": endpoint.arn})

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    return seen
