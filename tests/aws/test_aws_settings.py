"""AWS configuration fails fast, naming the setting that is wrong."""

from __future__ import annotations

import pytest
from aws_stack import AWS_ENV

from findining_mlops.config.settings import Settings
from findining_mlops.errors import ConfigurationError


def settings(**changes):
    env = {**AWS_ENV, **changes}
    return Settings.from_env({k: v for k, v in env.items() if v is not None})


def test_a_complete_stack_configures_the_aws_backend_with_defaults():
    s = settings(FINDINING_VPC_SUBNET_IDS="subnet-0abc1234, subnet-0def5678",
                 FINDINING_VPC_SECURITY_GROUP_IDS="sg-0123abcd")
    assert s.backend == "aws" and s.defer_waits
    assert (s.aws.training_role_arn, s.aws.serving_role_arn) == (
        AWS_ENV["FINDINING_TRAINING_ROLE_ARN"], AWS_ENV["FINDINING_SERVING_ROLE_ARN"])
    assert s.aws.kms_key_arn == AWS_ENV["FINDINING_KMS_KEY_ARN"]
    assert (s.aws.region, s.aws.bucket, s.aws.conn_id) == ("eu-west-1", "findining-test-ml-models", "aws_default")
    assert s.aws.subnet_ids == ("subnet-0abc1234", "subnet-0def5678") and s.aws.security_group_ids == ("sg-0123abcd",)
    assert s.aws.training_instance_type == "ml.m5.large" and s.aws.endpoint_instance_count == 1


def test_the_local_backend_reads_no_aws_setting():
    s = Settings.from_env({"FINDINING_BACKEND": "local", "FINDINING_BUCKET": "Not A Bucket"})
    assert s.aws is None and not s.defer_waits


@pytest.mark.parametrize("changes, message", [
    ({"FINDINING_BUCKET": None}, "FINDINING_BUCKET is not set"),
    ({"FINDINING_BUCKET": "s3://findining-models"},
     "FINDINING_BUCKET='s3://findining-models' is not an S3 bucket name"),
    ({"FINDINING_TRAINING_ROLE_ARN": "sagemaker-training-role"},
     "FINDINING_TRAINING_ROLE_ARN='sagemaker-training-role' is not an IAM role ARN"),
    ({"FINDINING_SERVING_ROLE_ARN": "arn:aws:iam::123456789012:user/ml"}, "FINDINING_SERVING_ROLE_ARN"),
    ({"FINDINING_TRAINING_ROLE_ARN": None}, "FINDINING_TRAINING_ROLE_ARN is not set"),
    ({"FINDINING_SERVING_ROLE_ARN": None}, "FINDINING_SERVING_ROLE_ARN is not set"),
    ({"FINDINING_AWS_REGION": "eu-middle-7"},
     "FINDINING_AWS_REGION='eu-middle-7' is not a region where SageMaker runs"),
    ({"FINDINING_AWS_REGION": None}, "FINDINING_AWS_REGION is not set"),
    ({"FINDINING_ALERTS_TOPIC_ARN": "ai-restaurant-recommendation-ml-alerts"}, "FINDINING_ALERTS_TOPIC_ARN"),
    ({"FINDINING_ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts"},
     "not in FINDINING_AWS_REGION eu-west-1"),
    ({"FINDINING_TRAINING_INSTANCE_TYPE": "m5.large"}, "FINDINING_TRAINING_INSTANCE_TYPE"),
    ({"FINDINING_TRAINING_VOLUME_GB": "lots"}, "FINDINING_TRAINING_VOLUME_GB='lots' is not a whole number"),
    ({"FINDINING_CAPTURE_PERCENT": "150"}, "FINDINING_CAPTURE_PERCENT=150 is outside 0..100"),
    ({"FINDINING_VPC_SUBNET_IDS": None}, "FINDINING_VPC_SUBNET_IDS is not set; the aws backend needs it"),
    ({"FINDINING_VPC_SECURITY_GROUP_IDS": None},
     "FINDINING_VPC_SECURITY_GROUP_IDS is not set; the aws backend needs it"),
    ({"FINDINING_VPC_SUBNET_IDS": " , "}, "FINDINING_VPC_SUBNET_IDS names no subnet-... id"),
    ({"FINDINING_KMS_KEY_ARN": None}, "FINDINING_KMS_KEY_ARN is not set; the aws backend needs it"),
    ({"FINDINING_KMS_KEY_ARN": "  "}, "FINDINING_KMS_KEY_ARN is not set"),
    ({"FINDINING_VPC_SUBNET_IDS": "vpc-1", "FINDINING_VPC_SECURITY_GROUP_IDS": "sg-0123abcd"},
     "FINDINING_VPC_SUBNET_IDS"),
    ({"FINDINING_KMS_KEY_ARN": "my key"}, "FINDINING_KMS_KEY_ARN"),
    ({"FINDINING_DEFER_WAITS": "sometimes"}, "FINDINING_DEFER_WAITS"),
])
def test_a_bad_setting_is_refused_by_name(changes, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(".", r"\.").replace("?", r"\?")):
        settings(**changes)


def test_airflow_variables_reach_every_aws_setting(monkeypatch):
    """``findining_bucket`` and friends: the Variable wins over the environment."""
    from airflow.sdk import Variable

    from findining_airflow import runtime

    values = {"findining_backend": "aws", "findining_bucket": "from-the-variable"}
    monkeypatch.setattr(Variable, "get", staticmethod(lambda key, default=None: values.get(key, default)))
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FINDINING_BACKEND", "local")
    assert {"findining_training_role_arn", "findining_serving_role_arn"} <= runtime.AWS_VARIABLES.keys()
    s = runtime.settings()
    assert s.backend == "aws" and s.aws.bucket == "from-the-variable"
