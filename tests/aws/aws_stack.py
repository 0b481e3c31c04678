"""The AWS stack the tests point the pipeline at (what the Terraform outputs would be)."""

from __future__ import annotations

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "findining-test-ml-models"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-execution-role"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:ai-restaurant-recommendation-ml-alerts"
AWS_ENV = {
    "FINDINING_BACKEND": "aws",
    "FINDINING_AWS_REGION": REGION,
    "FINDINING_BUCKET": BUCKET,
    "FINDINING_SAGEMAKER_ROLE_ARN": ROLE_ARN,
    "FINDINING_ALERTS_TOPIC_ARN": TOPIC_ARN,
}
