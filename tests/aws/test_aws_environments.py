"""Two environments in one account: every name the pipeline gives a resource carries the
environment's prefix (FINDINING_RESOURCE_PREFIX, Terraform's ``resource_prefix``), so dev and
staging register, deploy, alarm and lock side by side without seeing each other."""

from __future__ import annotations

from contextlib import contextmanager

import boto3
import pytest
from aws_stack import ACCOUNT, AWS_ENV, REGION

from findining_mlops.platform.ports import ProductionVariant

PREFIXES = {"dev": "ai-restaurant-recommendation-dev", "staging": "ai-restaurant-recommendation-staging"}


@pytest.fixture
def environments(aws_env, monkeypatch):
    """Per environment, what its stack creates (bucket, topic, tables), in one moto account;
    ``enter(env)`` makes this process that environment's, as its Airflow workers are."""
    from moto import mock_aws

    from findining_mlops.config.settings import AwsSettings
    from findining_mlops.platform.aws import AwsClients, aws_platform
    from findining_mlops.platform.aws.dynamodb import create_tables

    with mock_aws():
        platforms = {}
        for env, prefix in PREFIXES.items():
            bucket = f"{prefix}-ml-{ACCOUNT}"
            boto3.client("s3", region_name=REGION).create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            topic = boto3.client("sns", region_name=REGION).create_topic(Name=f"{prefix}-ml-alerts")["TopicArn"]
            settings = AwsSettings.from_env({
                **AWS_ENV, "FINDINING_BUCKET": bucket, "FINDINING_ALERTS_TOPIC_ARN": topic,
                "FINDINING_STATE_TABLE": f"{prefix}-mlops-state", "FINDINING_ABTESTS_TABLE": f"{prefix}-ab-tests"})
            create_tables(AwsClients(settings), settings)
            platforms[env] = aws_platform(settings)

        @contextmanager
        def enter(env: str):
            monkeypatch.setenv("FINDINING_RESOURCE_PREFIX", PREFIXES[env])
            yield platforms[env]
            monkeypatch.delenv("FINDINING_RESOURCE_PREFIX")

        yield enter


def deploy_first_version(platform) -> str:
    """Registers sentiment v1 and serves it on the environment's endpoint; returns its name."""
    from findining_mlops.config.catalog import get_model

    platform.store.write_bytes("training/sentiment/job/output/model.tar.gz", b"a model")
    version = platform.registry.register("sentiment", "training/sentiment/job/output/model.tar.gz", status="Approved",
                                         metrics={"accuracy": 0.9}, lineage={}, reason="test", idempotency_key="job")
    endpoint = get_model("sentiment").endpoint_name
    platform.endpoints.deploy(endpoint, [ProductionVariant("sentiment-v1", "sentiment", version.version,
                                                           platform.store.uri(version.artifact_key), 1.0)])
    return endpoint


def test_dev_and_staging_share_an_account_without_sharing_a_resource(environments):
    sm = boto3.client("sagemaker", region_name=REGION)
    with environments("dev") as dev:
        dev_endpoint = deploy_first_version(dev)
    with environments("staging") as staging:
        staging_endpoint = deploy_first_version(staging)
        assert staging.registry.get("sentiment", 1).artifact_uri.startswith(f"s3://{PREFIXES['staging']}-ml-")
        assert [e.name for e in staging.endpoints.list_endpoints()] == [staging_endpoint]
        assert [v.version for v in staging.registry.list_versions()] == [1]  # not dev's v1 as well
        assert staging.endpoints.acquire_deployment_lock(staging_endpoint, "staging-run") is None
    with environments("dev") as dev:
        assert [e.name for e in dev.endpoints.list_endpoints()] == [dev_endpoint]
        assert dev.endpoints.acquire_deployment_lock(dev_endpoint, "dev-run") is None  # staging's lock is not dev's

    assert (dev_endpoint, staging_endpoint) == ("ai-restaurant-recommendation-dev-sentiment-endpoint",
                                                "ai-restaurant-recommendation-staging-sentiment-endpoint")
    groups = {g["ModelPackageGroupName"] for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]}
    assert groups == {f"{prefix}-sentiment" for prefix in PREFIXES.values()}
    for endpoint, prefix in ((dev_endpoint, PREFIXES["dev"]), (staging_endpoint, PREFIXES["staging"])):
        config = sm.describe_endpoint_config(
            EndpointConfigName=sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"])
        assert config["EndpointConfigName"].startswith(f"{prefix}-sentiment-")  # cut to fit 63 characters
        assert all(v["ModelName"].startswith(f"{prefix}-sentiment-v1-") for v in config["ProductionVariants"])
    alarms = [a["AlarmName"] for a in boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"]]
    assert sorted({alarm.split("-sentiment-endpoint-")[0] for alarm in alarms}) == sorted(PREFIXES.values())


def test_training_jobs_of_the_same_dag_run_are_distinct_per_environment(monkeypatch):
    from findining_mlops.training.job import training_job_name

    names = set()
    for prefix in PREFIXES.values():
        monkeypatch.setenv("FINDINING_RESOURCE_PREFIX", prefix)
        names.add(training_job_name("sentiment", "model_retraining", "scheduled__2026-10-01T00:00:00+00:00"))
    assert len(names) == 2


@pytest.mark.parametrize("prefix, problem", [
    ("Ai-Restaurant", "not a name prefix"), ("ai--restaurant", "not a name prefix"),
    ("ai-restaurant-recommendation-production-eu", "SageMaker allows 63"),
])
def test_a_prefix_sagemaker_would_refuse_is_a_configuration_error_naming_the_setting(monkeypatch, prefix, problem):
    from findining_mlops.config.catalog import get_model
    from findining_mlops.errors import ConfigurationError

    monkeypatch.setenv("FINDINING_RESOURCE_PREFIX", prefix)
    with pytest.raises(ConfigurationError, match=problem) as error:
        _ = get_model("recommendation").endpoint_name
    assert "FINDINING_RESOURCE_PREFIX" in str(error.value)
