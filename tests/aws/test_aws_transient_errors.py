"""Only bad data fails a task for good: a throttled or unreachable AWS service is an error
Airflow retries, and the training trigger rides out a failed poll instead of abandoning a
job that keeps running."""

from __future__ import annotations

from datetime import date

import pytest
from aws_stack import BUCKET
from botocore.exceptions import ClientError
from botocore.stub import Stubber

DAY = date(2026, 10, 1)
KEY = "data/reviews/dt=2026-10-01/part-0.parquet"


def listing_of(keys: list[str]) -> dict:
    return {"Contents": [{"Key": key, "Size": 1} for key in keys], "IsTruncated": False, "KeyCount": len(keys)}


def test_a_throttled_partition_read_is_retryable_not_bad_data(aws):
    from findining_airflow.errors import fail_fast
    from findining_mlops.errors import DataValidationError
    from findining_mlops.store.partitions import read_partition

    listing = {"Bucket": BUCKET, "Prefix": "data/reviews/dt=2026-10-01/"}
    with Stubber(aws.store.clients.s3) as s3:  # after botocore's own retries gave up
        for _ in range(2):  # is the partition there; which files
            s3.add_response("list_objects_v2", listing_of([KEY]), listing)
        s3.add_client_error("get_object", service_error_code="SlowDown",
                            service_message="Please reduce your request rate.",
                            http_status_code=503, expected_params={"Bucket": BUCKET, "Key": KEY})
        with pytest.raises(ClientError, match="SlowDown") as raised, fail_fast():
            read_partition(aws, "reviews", DAY)

    assert not isinstance(raised.value, DataValidationError)


def test_a_corrupt_parquet_object_is_bad_data_and_fails_at_once(aws):
    from airflow.sdk.exceptions import AirflowFailException

    from findining_airflow.errors import fail_fast
    from findining_mlops.errors import DataValidationError
    from findining_mlops.store.partitions import read_partition

    aws.store.write_bytes(KEY, b"PAR1 this is not parquet")

    with pytest.raises(DataValidationError, match=f"s3://{BUCKET}/{KEY} is not readable parquet"):
        read_partition(aws, "reviews", DAY)
    with pytest.raises(AirflowFailException, match="DataValidationError"), fail_fast():
        read_partition(aws, "reviews", DAY)


JOB = "findining-sentiment-poll"


def throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


def run_trigger(trigger) -> list[dict]:
    import asyncio

    async def events() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(events())


@pytest.fixture
def finished_job(account):
    """A training job SageMaker (moto) reports Completed."""
    import boto3
    from aws_stack import REGION, TRAINING_ROLE_ARN

    boto3.client("sagemaker", region_name=REGION).create_training_job(
        TrainingJobName=JOB, RoleArn=TRAINING_ROLE_ARN,
        AlgorithmSpecification={"TrainingImage": "sklearn:1.4", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/training"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    return JOB


def test_the_trigger_is_handed_its_connection_region_job_and_interval_and_round_trips():
    from importlib import import_module

    from findining_airflow.triggers.training import TrainingJobTrigger

    trigger = TrainingJobTrigger(JOB, 7.5, aws_conn_id="aws_ml", region_name="eu-west-1")
    path, kwargs = trigger.serialize()
    module, name = path.rsplit(".", 1)
    again = getattr(import_module(module), name)(**kwargs)

    assert kwargs == {"job_name": JOB, "poll_interval": 7.5, "aws_conn_id": "aws_ml", "region_name": "eu-west-1",
                      "local_home": None, "max_poll_errors": 10}
    assert again.serialize() == (path, kwargs)
    assert (again.hook.aws_conn_id, again.hook.region_name) == ("aws_ml", "eu-west-1")


def test_the_operator_hands_the_trigger_the_tasks_aws_settings(account, monkeypatch):
    from findining_airflow.operators.training import TrainingJobOperator

    monkeypatch.setenv("FINDINING_AWS_CONN_ID", "aws_ml")
    trigger = TrainingJobOperator(task_id="train", model_name="sentiment", snapshot={})._trigger(JOB)

    assert (trigger.job_name, trigger.aws_conn_id, trigger.region_name, trigger.local_home) == (
        JOB, "aws_ml", account.region, None)


def test_a_poll_that_fails_once_is_polled_again_and_the_trigger_reports_the_finished_job(finished_job):
    from findining_airflow.triggers.training import TrainingJobTrigger

    trigger = TrainingJobTrigger(finished_job, 0, aws_conn_id="aws_default", region_name="eu-west-1")
    failures = [throttled("DescribeTrainingJob")]

    def fail_once(**_):
        if failures:
            raise failures.pop()

    trigger.hook.conn.meta.events.register("before-call.sagemaker.DescribeTrainingJob", fail_once)

    assert run_trigger(trigger) == [{"status": "done", "job_name": finished_job}]
    assert not failures  # the first poll was throttled


def test_polls_failing_without_end_give_a_retryable_error_not_a_failed_job(finished_job):
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    from findining_airflow.operators.training import TrainingJobOperator
    from findining_airflow.triggers.training import TrainingJobTrigger

    trigger = TrainingJobTrigger(finished_job, 0, aws_conn_id="aws_default", region_name="eu-west-1",
                                 max_poll_errors=3)
    polls = []

    def always_throttled(**_):
        polls.append(1)
        raise throttled("DescribeTrainingJob")

    trigger.hook.conn.meta.events.register("before-call.sagemaker.DescribeTrainingJob", always_throttled)

    [event] = run_trigger(trigger)
    assert (event["status"], len(polls)) == ("unreachable", 3) and "ThrottlingException" in event["message"]
    operator = TrainingJobOperator(task_id="train", model_name="sentiment", snapshot={})
    with pytest.raises(AirflowException, match=f"lost track of training job {finished_job}") as raised:
        operator.execute_complete({}, event)
    assert not isinstance(raised.value, AirflowFailException)  # Airflow retries it


def test_a_retried_task_re_attaches_to_the_running_job_instead_of_starting_another(aws, sentiment):
    """The job name comes from the DAG run: the retry describes it, finds it running and
    waits for it again; SageMaker sees one CreateTrainingJob (the Stubber refuses a second)."""
    from airflow.sdk.exceptions import TaskDeferred

    from findining_airflow.operators.training import TrainingJobOperator
    from findining_mlops.training.snapshot import snapshot_training_data

    snapshot = snapshot_training_data(aws, sentiment, "findining-sentiment-run1", date(2026, 10, 6))
    operator = TrainingJobOperator(task_id="train", model_name="sentiment", snapshot=snapshot.to_dict(),
                                   deferrable=True)
    operator.platform = aws
    missing = dict(service_error_code="ValidationException", service_message="Requested resource not found.")
    running = {"TrainingJobName": snapshot.job_name, "TrainingJobStatus": "InProgress",
               "TrainingJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/{snapshot.job_name}",
               "SecondaryStatus": "Training", "AlgorithmSpecification": {"TrainingInputMode": "File"},
               "ModelArtifacts": {"S3ModelArtifacts": ""}, "ResourceConfig": {"VolumeSizeInGB": 30},
               "StoppingCondition": {}, "CreationTime": "2026-10-07T00:00:00Z"}
    describe = {"TrainingJobName": snapshot.job_name}
    with Stubber(aws.training.clients.sagemaker) as sagemaker:
        for _ in range(2):  # the first try: the operator's and start()'s describe find nothing
            sagemaker.add_client_error("describe_training_job", expected_params=describe, **missing)
        sagemaker.add_response("create_training_job", {"TrainingJobArn": running["TrainingJobArn"]})
        for _ in range(1 + 2):  # start() describes what it created; the retry's two describes
            sagemaker.add_response("describe_training_job", running, describe)

        with pytest.raises(TaskDeferred) as first:
            operator.execute({})
        with pytest.raises(TaskDeferred) as retried:
            operator.execute({})
        sagemaker.assert_no_pending_responses()

    assert first.value.trigger.job_name == retried.value.trigger.job_name == snapshot.job_name
