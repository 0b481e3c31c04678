"""What moto does not do for processing jobs, done the way SageMaker does it, for tests.

moto records a CreateProcessingJob as Completed and runs nothing. Here a job is ``InProgress``
until it has run: once its creator has described it, a background thread plays the container.
It downloads each S3 input into the job's folder (an S3Prefix's objects named by what follows
the prefix's last ``/``, as SageMaker does), runs the ``ContainerEntrypoint`` with the job's
folder standing for ``/opt/ml/processing`` (in the entrypoint and in the JSON inputs that name
container paths) and only the request's ``Environment`` plus this interpreter's ``PATH``, stops
it at ``MaxRuntimeInSeconds``, uploads each output's folder to its S3 URI and marks the job
``Completed``, ``Failed`` (a non-zero exit, SageMaker's ``AlgorithmError``) or ``Stopped`` (the
time limit, with no reason, as SageMaker reports it)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import boto3
from aws_stack import REGION

CONTAINER_ROOT = "/opt/ml/processing"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _download_inputs(s3, request: dict, root: Path) -> None:
    for item in request["ProcessingInputs"]:
        source = item["S3Input"]
        bucket, prefix = _split(source["S3Uri"])
        folder = root / Path(source["LocalPath"]).relative_to(CONTAINER_ROOT)
        base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            path = folder / obj["Key"][len(base):]
            path.parent.mkdir(parents=True, exist_ok=True)
            data = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            if path.suffix == ".json":
                data = data.replace(CONTAINER_ROOT.encode(), str(root).encode())
            path.write_bytes(data)


def _upload_outputs(s3, request: dict, root: Path) -> None:
    for item in request["ProcessingOutputConfig"]["Outputs"]:
        bucket, prefix = _split(item["S3Output"]["S3Uri"])
        folder = root / Path(item["S3Output"]["LocalPath"]).relative_to(CONTAINER_ROOT)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            s3.put_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}",
                          Body=path.read_bytes())


def run_processing_job_locally(request: dict) -> tuple[str, str]:
    """The job's final status and failure reason."""
    s3 = boto3.client("s3", region_name=REGION)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for item in request["ProcessingOutputConfig"]["Outputs"]:
            (root / Path(item["S3Output"]["LocalPath"]).relative_to(CONTAINER_ROOT)).mkdir(parents=True, exist_ok=True)
        _download_inputs(s3, request, root)
        app = request["AppSpecification"]
        command = [part.replace(CONTAINER_ROOT, str(root))
                   for part in app["ContainerEntrypoint"] + app.get("ContainerArguments", [])]
        env = {**request.get("Environment", {}), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
               "HOME": str(root)}
        try:
            done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False,
                                  timeout=request["StoppingCondition"]["MaxRuntimeInSeconds"])
        except subprocess.TimeoutExpired:
            return "Stopped", ""
        if done.returncode:
            return "Failed", f"AlgorithmError: See job logs for more information (exit code {done.returncode}: " \
                             f"{done.stderr.strip()[-300:]})"
        _upload_outputs(s3, request, root)
        return "Completed", ""


def runs_processing_jobs(monkeypatch, before_run: Callable[[dict], None] | None = None) -> list[dict]:
    """Every CreateProcessingJob moto receives runs locally, in the background, once the job
    has been described (after ``before_run(request)``); returns the requests seen."""
    from moto.sagemaker.responses import SageMakerResponse

    seen: list[dict] = []
    described: dict[str, threading.Event] = {}
    create, describe = SageMakerResponse.create_processing_job, SageMakerResponse.describe_processing_job

    def create_and_run(self):
        result = create(self)
        request = json.loads(self.body)
        seen.append(request)
        job = self.sagemaker_backend.processing_jobs[request["ProcessingJobName"]]
        job.processing_job_status = "InProgress"
        described[job.processing_job_name] = threading.Event()

        def process() -> None:
            described[job.processing_job_name].wait()
            if before_run is not None:
                before_run(request)
            status, reason = run_processing_job_locally(request)
            if reason:
                job.failure_reason = reason
            job.processing_job_status = status

        threading.Thread(target=process, name=f"processing-job-{job.processing_job_name}", daemon=True).start()
        return result

    def describe_and_release(self):
        result = describe(self)
        event = described.get(self._get_param("ProcessingJobName"))
        if event is not None:
            event.set()
        return result

    monkeypatch.setattr(SageMakerResponse, "create_processing_job", create_and_run)
    monkeypatch.setattr(SageMakerResponse, "describe_processing_job", describe_and_release)
    return seen
