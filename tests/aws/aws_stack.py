"""The AWS stack the tests point the pipeline at (what the Terraform outputs would be)."""

from __future__ import annotations

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "findining-test-ml-models"
TRAINING_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-training-role"
SERVING_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-serving-role"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:ai-restaurant-recommendation-ml-alerts"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
SUBNETS, SECURITY_GROUPS = ("subnet-0abc1234", "subnet-0def5678"), ("sg-0123abcd",)
AWS_ENV = {
    "FINDINING_BACKEND": "aws",
    "FINDINING_AWS_REGION": REGION,
    "FINDINING_BUCKET": BUCKET,
    "FINDINING_TRAINING_ROLE_ARN": TRAINING_ROLE_ARN,
    "FINDINING_SERVING_ROLE_ARN": SERVING_ROLE_ARN,
    "FINDINING_ALERTS_TOPIC_ARN": TOPIC_ARN,
    "FINDINING_VPC_SUBNET_IDS": ",".join(SUBNETS),
    "FINDINING_VPC_SECURITY_GROUP_IDS": ",".join(SECURITY_GROUPS),
    "FINDINING_KMS_KEY_ARN": KEY_ARN,
}
