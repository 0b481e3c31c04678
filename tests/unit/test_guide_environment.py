"""The guide's microservice environment variables: the client and the CLI honour the ones
that name what our settings name (the endpoints, the region)."""

from __future__ import annotations

import json

import pytest

from findining_mlops.cli import main as cli
from findining_mlops.config.settings import Settings
from findining_mlops.errors import EndpointError
from findining_mlops.serving.client.service import MLService

ACCOUNT = "123456789012"
STACK = {"FINDINING_BACKEND": "aws", "FINDINING_BUCKET": "findining-test-ml-models",
         "FINDINING_TRAINING_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/sagemaker-training-role",
         "FINDINING_SERVING_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/sagemaker-serving-role",
         "FINDINING_VPC_SUBNET_IDS": "subnet-0a1b2c3d", "FINDINING_VPC_SECURITY_GROUP_IDS": "sg-0a1b2c3d",
         "FINDINING_KMS_KEY_ARN": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1",
         "FINDINING_ALERTS_TOPIC_ARN": f"arn:aws:sns:us-east-1:{ACCOUNT}:ai-restaurant-recommendation-ml-alerts"}


def test_the_client_calls_the_endpoints_the_environment_names(platform, monkeypatch):
    monkeypatch.setenv("RECOMMENDATION_ENDPOINT_NAME", "recs-blue-endpoint")
    service = MLService.from_env()

    health = service.health_check()
    assert health["recommendation"] == {"status": "missing", "endpoint": "recs-blue-endpoint"}
    assert health["sentiment"]["endpoint"] == "ai-restaurant-recommendation-sentiment-endpoint"  # the default
    with pytest.raises(EndpointError, match="recs-blue-endpoint"):
        service.invoke("recommendation", None, {"candidates": []})


def test_the_guides_aws_region_is_the_region_when_ours_is_not_set():
    assert Settings.from_env({**STACK, "AWS_REGION": "us-east-1"}).aws.region == "us-east-1"
    # ours wins where both are set (AWS_REGION is often set for other tools)
    mixed = {**STACK, "AWS_REGION": "eu-west-1", "FINDINING_AWS_REGION": "us-east-1"}
    assert Settings.from_env(mixed).aws.region == "us-east-1"


def test_the_cli_health_check_reports_the_endpoints_the_environment_names(platform, monkeypatch, capsys):
    monkeypatch.setenv("SENTIMENT_ENDPOINT_NAME", "reviews-endpoint")
    assert cli.main(["health", "--json"]) == 1  # nothing is deployed: unhealthy
    health = json.loads(capsys.readouterr().out)
    assert health["sentiment"] == {"status": "missing", "endpoint": "reviews-endpoint"}
