"""A model check on AWS runs in a SageMaker processing job, never in the orchestrator: network
isolation, the stack's VPC and key, the training role; the exact uploaded version; one job per
check name, however often it is run; what the job leaves is read as bounded JSON."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from datetime import date
from pathlib import Path

import boto3
import pytest
from aws_stack import BUCKET, KEY_ARN, REGION, SECURITY_GROUPS, SUBNETS, TRAINING_ROLE_ARN
from processing_emulation import runs_processing_jobs
from simulation import tarball
from upload_fixtures import model_running_on_load, sentiment_files

from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.errors import ModelCheckFailed
from findining_mlops.platform.aws.model_checks import ENTRYPOINT, SageMakerModelChecks
from findining_mlops.platform.ports import ModelCheckTask

UPLOAD = "models/sentiment/1.1.0/model.tar.gz"
NAME = "check-sentiment-upload-0123456789abcdef"
SMOKE = {"text": "The pasta was wonderful and the staff were friendly."}


@pytest.fixture(scope="module")
def good_model() -> bytes:
    return tarball(sentiment_files())


@pytest.fixture
def checks(aws) -> SageMakerModelChecks:
    """The aws platform's checks, looking at a job every 50 ms, on a versioned bucket holding a holdout."""
    boto3.client("s3", region_name=REGION).put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    holdout = World(seed=3).reviews(date(2026, 10, 1), 150, ScenarioPlan())
    aws.store.write_bytes(f"checks/{NAME}/holdout/part-0.parquet", holdout.to_parquet(index=False))
    assert isinstance(aws.checks, SageMakerModelChecks)
    aws.checks.poll_interval_s = 0.05
    return aws.checks


def upload(checks: SageMakerModelChecks, data: bytes) -> str:
    """Puts ``data`` at the upload key; returns the version written."""
    return boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=UPLOAD, Body=data)["VersionId"]


def task(version_id: str | None, name: str = NAME) -> ModelCheckTask:
    return ModelCheckTask(name, "findining_mlops.models.sentiment", UPLOAD, version_id,
                          f"checks/{NAME}/holdout", smoke_request=SMOKE)


def jobs() -> list[str]:
    summaries = boto3.client("sagemaker", region_name=REGION).list_processing_jobs()["ProcessingJobSummaries"]
    return [job["ProcessingJobName"] for job in summaries]


@pytest.fixture
def created(checks) -> list[dict]:
    """The CreateProcessingJob requests the checks send (validated by botocore against the service model)."""
    requests: list[dict] = []
    checks.clients.sagemaker.meta.events.register(
        "provide-client-params.sagemaker.CreateProcessingJob", lambda params, **_: requests.append(dict(params)))
    return requests


def test_the_check_runs_isolated_in_the_vpc_under_the_training_role_with_the_stacks_key(checks, created,
                                                                                         good_model):
    with pytest.raises(ModelCheckFailed):  # moto alone runs nothing
        checks.run(task(upload(checks, good_model)), time_limit_s=120)

    [request] = created
    assert request["ProcessingJobName"] == NAME
    assert request["RoleArn"] == TRAINING_ROLE_ARN
    assert request["NetworkConfig"] == {"EnableNetworkIsolation": True, "VpcConfig": {
        "Subnets": list(SUBNETS), "SecurityGroupIds": list(SECURITY_GROUPS)}}
    assert request["ProcessingOutputConfig"]["KmsKeyId"] == KEY_ARN
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY_ARN
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 120}
    assert request["AppSpecification"]["ImageUri"].endswith(".amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3")
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"]}
    assert inputs["model"] == f"s3://{BUCKET}/checks/{NAME}/model.tar.gz"
    assert inputs["holdout"] == f"s3://{BUCKET}/checks/{NAME}/holdout/"
    assert inputs["code"].startswith(f"s3://{BUCKET}/code/sentiment/")
    [output] = request["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == f"s3://{BUCKET}/checks/{NAME}/output"
    head = boto3.client("s3", region_name=REGION).head_object(Bucket=BUCKET, Key=f"checks/{NAME}/model.tar.gz")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KEY_ARN)


def test_each_entrypoint_string_fits_sagemakers_256_characters():
    assert max(len(part) for part in ENTRYPOINT) <= 256


def test_a_real_model_is_unpacked_loaded_asked_and_evaluated_in_the_job(checks, good_model, monkeypatch):
    runs_processing_jobs(monkeypatch)
    result = checks.run(task(upload(checks, good_model)), time_limit_s=120)

    assert 0.0 <= result["metrics"]["macro_f1"] <= 1.0
    assert result["smoke_response"]["label"] in ("positive", "neutral", "negative")
    assert "model.joblib" in result["files"]


def test_the_job_checks_the_uploaded_version_even_when_the_upload_is_overwritten_after_the_check_starts(
        checks, good_model, monkeypatch):
    def overwrite(request: dict) -> None:
        upload(checks, tarball({"model.joblib": b"not a model: unchecked bytes"}))

    runs_processing_jobs(monkeypatch, before_run=overwrite)
    checked = upload(checks, good_model)
    result = checks.run(task(checked), time_limit_s=120)

    assert "macro_f1" in result["metrics"]  # the good model was checked, not the overwrite
    assert checks.store.read_bytes(f"checks/{NAME}/model.tar.gz") == good_model
    assert checks.store.read_bytes(UPLOAD) != good_model


def test_a_finished_check_run_again_reads_its_result_and_starts_no_second_job(checks, created, good_model):
    written = {"metrics": {"macro_f1": 0.8}, "files": ["model.joblib"], "smoke_response": {"label": "positive"}}
    checks.store.write_bytes(f"checks/{NAME}/output/result.json", json.dumps(written).encode())
    first = checks.run(task(upload(checks, good_model)), time_limit_s=120)
    upload(checks, b"an overwrite after the check")

    assert checks.run(task(upload(checks, good_model)), time_limit_s=120) == first == written
    assert len(created) == 1 and jobs() == [NAME]


def test_a_check_still_running_after_its_wait_times_out_and_a_retry_re_attaches_to_the_same_job(
        checks, good_model, monkeypatch):
    import time

    seen = runs_processing_jobs(monkeypatch, before_run=lambda request: time.sleep(1.0))
    checks.provisioning_slack_s = 0.0
    with pytest.raises(TimeoutError, match=f"{NAME} is still InProgress .* re-attaches"):
        checks.run(task(upload(checks, good_model)), time_limit_s=0.3)

    # the job's MaxRuntimeInSeconds (1 s) is too short for the check: SageMaker stops it, with no reason
    checks.provisioning_slack_s = 30.0
    stopped = f"was stopped: .* within the time limit of 0.3 s in SageMaker processing job {NAME} "
    with pytest.raises(ModelCheckFailed, match=stopped):
        checks.run(task(upload(checks, good_model)), time_limit_s=0.3)
    assert len(seen) == 1 and jobs() == [NAME]


def test_a_model_that_kills_its_check_fails_the_job_and_the_check_names_it(checks, monkeypatch):
    runs_processing_jobs(monkeypatch)
    with pytest.raises(ModelCheckFailed, match=f"crashed its check in SageMaker processing job {NAME} .*: "
                                               "Failed, AlgorithmError"):
        checks.run(task(upload(checks, model_running_on_load(os._exit, 70))), time_limit_s=120)


def test_a_model_that_fails_a_step_raises_the_checks_verdict(checks, monkeypatch):
    runs_processing_jobs(monkeypatch)
    with pytest.raises(ModelCheckFailed, match="^is not a readable model.tar.gz"):
        checks.run(task(upload(checks, b"not a tarball")), time_limit_s=120)


def test_a_job_that_completes_without_a_result_fails_the_check_naming_the_job(checks, good_model):
    # moto alone: the job is Completed at once and ran nothing
    with pytest.raises(ModelCheckFailed, match=f"left no result in SageMaker processing job {NAME}"):
        checks.run(task(upload(checks, good_model)), time_limit_s=120)


@pytest.mark.parametrize(("written", "refusal"), [
    (b"\x80\x04\x95 a pickle, never loaded", "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    (b'{"metrics": 1, "files": [], "smoke_response": {}}', "not a check result"),
    (b'{"metrics": {}, "files": []}', "not a check result"),  # the smoke request went unanswered
    (b" " * (16 * 1024**2 + 1), "more than a check result's"),
], ids=["pickle", "deeply-nested", "metrics-not-an-object", "no-smoke-response", "oversized"])
def test_what_the_job_leaves_is_read_as_bounded_json_only(checks, good_model, written, refusal):
    checks.store.write_bytes(f"checks/{NAME}/output/result.json", written)
    with pytest.raises(ModelCheckFailed, match=refusal):
        checks.run(task(upload(checks, good_model)), time_limit_s=120)


def test_a_check_of_a_missing_version_starts_no_job(checks, good_model):
    upload(checks, good_model)
    with pytest.raises(FileNotFoundError, match=f"no object at version 0000 of s3://{BUCKET}/{UPLOAD}"):
        checks.run(task("0000"), time_limit_s=120)
    assert jobs() == []


def test_the_source_bundle_holds_the_check_and_every_module_it_imports(tmp_path):
    """The container has no findining_mlops but the bundle's: every module the check imports for
    a sentiment model is loaded from the unpacked bundle, none from this checkout."""
    from findining_mlops.config.catalog import get_model
    from findining_mlops.platform.aws.source import source_tarball

    with tarfile.open(fileobj=io.BytesIO(source_tarball(get_model("sentiment"), "1.9-0"))) as tar:
        tar.extractall(tmp_path, filter="data")
    program = ("import sys, findining_mlops.training.check as check, findining_mlops.serving.server.handlers as h\n"
               "from findining_mlops.models.contract import ModelPackage\n"
               "p = ModelPackage('findining_mlops.models.sentiment'); p.train; h.load_handlers(p.inference_module)\n"
               "print('\\n'.join(m.__file__ for n, m in sys.modules.items() if n.startswith('findining_mlops')))")
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env={**os.environ, "PYTHONPATH": "."},
                          capture_output=True, text=True, check=True)
    loaded = [Path(line) for line in done.stdout.splitlines()]
    assert any(path.name == "check.py" for path in loaded)
    assert [path for path in loaded if not path.is_relative_to(tmp_path)] == []
