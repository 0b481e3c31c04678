"""AWS clients through the Amazon provider's hooks, so credentials come from the Airflow
connection (``FINDINING_AWS_CONN_ID``, default ``aws_default``) the same way the provider's
own operators get theirs. One hook per service and platform: hooks cache their boto3 client."""

from __future__ import annotations

from functools import cached_property

from findining_mlops.settings import AwsSettings


class AwsClients:
    def __init__(self, settings: AwsSettings):
        self.settings = settings

    def _kwargs(self) -> dict:
        return {"aws_conn_id": self.settings.conn_id, "region_name": self.settings.region}

    @cached_property
    def s3_hook(self):
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(**self._kwargs())

    @cached_property
    def sagemaker_hook(self):
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        return SageMakerHook(**self._kwargs())

    @cached_property
    def sns_hook(self):
        from airflow.providers.amazon.aws.hooks.sns import SnsHook

        return SnsHook(**self._kwargs())

    @cached_property
    def dynamodb(self):
        """The boto3 DynamoDB resource (typed attributes, Table helpers)."""
        from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook

        return DynamoDBHook(**self._kwargs()).conn

    @cached_property
    def s3(self):
        return self.s3_hook.conn

    @cached_property
    def sagemaker(self):
        return self.sagemaker_hook.conn

    @cached_property
    def cloudwatch(self):
        return self._generic("cloudwatch")

    @cached_property
    def logs(self):
        return self._generic("logs")

    @cached_property
    def sagemaker_runtime(self):
        return self._generic("sagemaker-runtime")

    def _generic(self, client_type: str):
        """Services without a dedicated hook: the provider's generic hook, same connection."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook

        return AwsGenericHook(client_type=client_type, **self._kwargs()).conn


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def not_found(exc: Exception) -> bool:
    """SageMaker answers a describe of an unknown name with a ValidationException."""
    message = str(exc).lower()
    return error_code(exc) in ("ValidationException", "ResourceNotFound") and (
        "not found" in message or "could not find" in message or "does not exist" in message)
