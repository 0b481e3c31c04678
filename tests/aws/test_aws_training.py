"""SageMaker training jobs: the script-mode request, and a retried start re-attaches."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import boto3
import pytest
from aws_stack import BUCKET, KEY_ARN, REGION, SECURITY_GROUPS, SUBNETS, TRAINING_ROLE_ARN
from botocore.stub import Stubber
from simulation import tarball

from findining_mlops.platform.ports import TrainingJobSpec

SPEC = TrainingJobSpec(
    name="findining-sentiment-0123456789ab", model_name="sentiment",
    entry_point="findining_mlops.models.sentiment.train",
    hyperparameters={"c": 4.0, "max_features": 20000},
    channels={c: f"training/sentiment/findining-sentiment-0123456789ab/{c}" for c in ("train", "validation", "test")},
    output_prefix="training/sentiment",
)


@pytest.fixture
def channels(aws):
    for prefix in SPEC.channels.values():
        aws.store.write_bytes(f"{prefix}/part-0.parquet", b"PAR1")
    return aws


def jobs() -> list[str]:
    return [j["TrainingJobName"]
            for j in boto3.client("sagemaker", region_name=REGION).list_training_jobs()["TrainingJobSummaries"]]


def test_a_job_runs_the_entry_point_in_the_prebuilt_sklearn_container_in_script_mode(channels):
    job = channels.training.start(SPEC)
    assert job.name == SPEC.name
    request = boto3.client("sagemaker", region_name=REGION).describe_training_job(TrainingJobName=SPEC.name)
    assert request["AlgorithmSpecification"]["TrainingImage"].endswith(
        ".amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3")
    assert request["RoleArn"] == TRAINING_ROLE_ARN
    hps = request["HyperParameters"]
    assert json.loads(hps["sagemaker_program"]) == "findining_train.py"
    # isolated, the container cannot fetch its code: SageMaker puts the bundle in the code channel
    assert json.loads(hps["sagemaker_submit_directory"]) == "/opt/ml/input/data/code/sourcedir.tar.gz"
    assert (json.loads(hps["c"]), json.loads(hps["max_features"])) == (4.0, 20000)
    inputs = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]}
    source = inputs.pop("code")
    assert source.startswith(f"s3://{BUCKET}/code/sentiment/") and source.endswith("/sourcedir.tar.gz")
    assert inputs == {c: f"s3://{BUCKET}/{p}/" for c, p in SPEC.channels.items()}
    assert request["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/training/sentiment", "KmsKeyId": KEY_ARN}
    assert request["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30,
                                         "VolumeKmsKeyId": KEY_ARN}
    assert request["StoppingCondition"]["MaxRuntimeInSeconds"] == 7200


def test_a_job_runs_network_isolated_in_the_private_subnets(channels):
    request = channels.training.request(SPEC)
    assert request["EnableNetworkIsolation"] is True
    assert request["VpcConfig"] == {"Subnets": list(SUBNETS), "SecurityGroupIds": list(SECURITY_GROUPS)}


def test_the_source_tarball_runs_the_model_module_and_is_uploaded_once(channels):
    import io
    import tarfile

    from findining_mlops.config.catalog import get_model
    from findining_mlops.platform.aws.source import source_tarball, upload_source

    first, again = source_tarball(get_model("sentiment"), "1.9-0"), source_tarball(get_model("sentiment"), "1.9-0")
    assert first == again  # reproducible: the same code is the same key
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
        program = tar.extractfile("findining_train.py").read().decode()
        serve = tar.extractfile("findining_serve.py").read().decode()
    assert "findining_mlops/models/sentiment/train.py" in names and "requirements.txt" in names
    assert "findining_mlops.models.sentiment.train" in program and "findining_mlops.models.sentiment.inference" in serve
    uri = upload_source(channels.store, get_model("sentiment"), "1.9-0")
    assert upload_source(channels.store, get_model("sentiment"), "1.9-0") == uri
    assert len(channels.store.list_keys("code/sentiment/")) == 1


def test_a_source_bundle_is_written_with_if_none_match_and_the_stack_s_key(channels):
    from findining_mlops.config.catalog import get_model
    from findining_mlops.platform.aws.source import source_tarball, upload_source
    from findining_mlops.store.layout import source_bundle_key

    data = source_tarball(get_model("sentiment"), "1.9-0")
    key = source_bundle_key("sentiment", data)
    with Stubber(channels.store._s3) as stub:
        stub.add_response("put_object", {}, {"Bucket": BUCKET, "Key": key, "Body": data, "IfNoneMatch": "*",
                                             "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY_ARN})
        assert upload_source(channels.store, get_model("sentiment"), "1.9-0") == f"s3://{BUCKET}/{key}"
        stub.assert_no_pending_responses()


def test_other_bytes_under_a_bundle_s_key_are_refused_by_name_and_left_in_place(channels):
    """What a writer of code/ would plant: a tarball under the name the next job's bundle will have."""
    from findining_mlops.config.catalog import get_model
    from findining_mlops.errors import ImmutableArtifactError
    from findining_mlops.platform.aws.source import source_tarball, upload_source
    from findining_mlops.store.layout import source_bundle_key

    key = source_bundle_key("sentiment", source_tarball(get_model("sentiment"), "1.9-0"))
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"planted")
    with pytest.raises(ImmutableArtifactError, match=f"s3://{BUCKET}/{key} holds other bytes"):
        upload_source(channels.store, get_model("sentiment"), "1.9-0")
    with pytest.raises(ImmutableArtifactError, match=key):  # and a job never starts on it
        channels.training.start(SPEC)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"planted"
    assert jobs() == []


def test_a_package_file_edited_while_the_process_runs_leaves_its_bundle_unchanged(tmp_path, monkeypatch):
    """Read at every call, the bundle of one process changed when a file of the package was
    edited meanwhile, and a second identical deploy named new models and a new config."""
    import shutil

    import findining_mlops
    from findining_mlops.config.catalog import get_model
    from findining_mlops.platform.aws import source

    package = shutil.copytree(Path(findining_mlops.__file__).parent, tmp_path / "findining_mlops",
                              ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(findining_mlops, "__file__", str(package / "__init__.py"))
    # a fresh cache: this process has not read the copy yet
    monkeypatch.setattr(source, "_source_tarball", functools.lru_cache(maxsize=16)(source._source_tarball.__wrapped__))
    before = source.source_tarball(get_model("sentiment"), "1.9-0")
    edited = package / "cli" / "main.py"
    edited.write_text(edited.read_text() + "\n# edited by somebody else\n")
    assert source.source_tarball(get_model("sentiment"), "1.9-0") == before


def test_the_request_is_valid_for_sagemaker_s_service_model(channels):
    """botocore checks every parameter against the model before sending; the Stubber answers."""
    client = channels.training.clients.sagemaker
    request = channels.training.request(SPEC)
    with Stubber(client) as stub:
        stub.add_response("create_training_job", {"TrainingJobArn": "arn:aws:sagemaker:eu-west-1:1:training-job/x"},
                          request)
        client.create_training_job(**request)


@pytest.mark.parametrize("status", ["InProgress", "Completed"])
def test_a_retried_start_re_attaches_and_creates_no_second_job(channels, status):
    from moto.sagemaker.models import sagemaker_backends

    channels.store.write_bytes(f"training/sentiment/{SPEC.name}/output/model.tar.gz",
                               tarball({"evaluation.json": b'{"macro_f1": 0.8}'}))
    channels.training.start(SPEC)
    sagemaker_backends["123456789012"][REGION].training_jobs[SPEC.name].training_job_status = status
    job = channels.training.start(SPEC)  # the retried task
    assert job.status == status and jobs() == [SPEC.name]
    if status == "Completed":
        assert job.model_artifact_key == f"training/sentiment/{SPEC.name}/output/model.tar.gz"
        assert job.metrics == {"macro_f1": 0.8}


def test_a_retried_start_never_sends_create_training_job(channels):
    """Stubber answers DescribeTrainingJob with InProgress and refuses any other call."""
    client = channels.training.clients.sagemaker
    with Stubber(client) as stub:
        stub.add_response("describe_training_job", {
            "TrainingJobName": SPEC.name,
            "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{SPEC.name}",
            "TrainingJobStatus": "InProgress", "SecondaryStatus": "Training",
            "ModelArtifacts": {"S3ModelArtifacts": ""},
            "AlgorithmSpecification": {"TrainingInputMode": "File"}, "ResourceConfig": {"VolumeSizeInGB": 30},
            "StoppingCondition": {}, "CreationTime": "2026-10-11T00:00:00Z"}, {"TrainingJobName": SPEC.name})
        job = channels.training.start(SPEC)
        stub.assert_no_pending_responses()
    assert job.status == "InProgress" and job.model_artifact_key is None


def test_an_unknown_job_is_none_and_a_failed_one_carries_its_reason(channels):
    from moto.sagemaker.models import sagemaker_backends

    assert channels.training.describe("findining-sentiment-nothere") is None
    channels.training.start(SPEC)
    job = sagemaker_backends["123456789012"][REGION].training_jobs[SPEC.name]
    job.training_job_status, job.failure_reason = "Failed", "AlgorithmError: the feature store is unreachable"
    failed = channels.training.describe(SPEC.name)
    assert (failed.status, failed.failure_reason) == ("Failed", "AlgorithmError: the feature store is unreachable")


def test_logs_come_from_the_jobs_cloudwatch_streams(channels):
    logs = boto3.client("logs", region_name=REGION)
    assert channels.training.logs(SPEC.name) == ""  # no log group yet
    logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
    logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=f"{SPEC.name}/algo-1-1700000000")
    logs.put_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=f"{SPEC.name}/algo-1-1700000000",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "macro_f1=0.81"}])
    assert channels.training.logs(SPEC.name) == "macro_f1=0.81"
