"""The aws backend against moto, in-process: an account with the bucket, topic and tables
that the Terraform stack provides, and the settings that point the pipeline at them."""

from __future__ import annotations

import pytest
from aws_stack import ACCOUNT, AWS_ENV, BUCKET, REGION, TOPIC_ARN  # noqa: F401


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """The settings of a deployed stack, and fake credentials moto accepts."""
    for name, value in {**AWS_ENV, "FINDINING_HOME": str(tmp_path / "findining"),
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                        "AIRFLOW_CONN_AWS_DEFAULT": '{"conn_type": "aws"}'}.items():
        monkeypatch.setenv(name, value)
    return AWS_ENV


@pytest.fixture
def account(aws_env):
    """A moto account holding the stack's resources."""
    import boto3
    from moto import mock_aws

    from findining_airflow import runtime
    from findining_mlops.config.settings import Settings
    from findining_mlops.platform.aws import AwsClients
    from findining_mlops.platform.aws.dynamodb import create_tables

    with mock_aws():
        runtime._platform_for.cache_clear()
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("sns", region_name=REGION).create_topic(Name=TOPIC_ARN.rsplit(":", 1)[1])
        settings = Settings.from_env().aws
        create_tables(AwsClients(settings), settings)
        yield settings
        runtime._platform_for.cache_clear()


@pytest.fixture
def aws(account):
    """The aws platform on the moto account."""
    from findining_mlops.platform.aws import aws_platform

    return aws_platform(account)


@pytest.fixture
def alerts_queue(account):
    """An SQS queue subscribed to the alerts topic (raw delivery off: SNS's JSON envelope)."""
    import boto3

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", region_name=REGION).subscribe(TopicArn=TOPIC_ARN, Protocol="sqs", Endpoint=arn)

    def receive() -> list[dict]:
        import json

        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return receive


@pytest.fixture
def use_catalog(tmp_path, monkeypatch):
    """``use_catalog(sentiment={...})``: the pipeline sees only these models."""
    from simulation import write_catalog

    def use(**models: dict):
        monkeypatch.setenv("FINDINING_MODELS_CONFIG", str(write_catalog(tmp_path / "models.toml", models)))

    return use


@pytest.fixture
def sentiment(aws, use_catalog):
    """Six days of reviews in the bucket and a small sentiment model."""
    from datetime import date

    from simulation import SENTIMENT

    from findining_mlops.config.catalog import get_model
    from findining_mlops.data.synthetic import generate

    use_catalog(sentiment={**SENTIMENT, "training_window_days": 6, "holdout_days": 1, "max_regression": 0.05})
    generate(aws.store, date(2026, 10, 1), 6, seed=4, requests_per_day=10, reviews_per_day=150)
    return get_model("sentiment")
