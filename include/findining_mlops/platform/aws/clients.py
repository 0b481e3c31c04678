"""AWS clients from a boto3 session, with retries for throttling and transient faults.

The adapters import no Airflow: whoever builds the platform hands in the session. Airflow
tasks build it from the Airflow connection with the provider's ``AwsBaseHook``
(``findining_airflow.runtime``), the CLI and the tests from the standard AWS configuration
chain (``boto3.Session()``). One client per service and platform: clients are thread-safe
and cache their connections."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from findining_mlops.config.settings import AwsSettings

# Throttling, 5xx and network errors are retried with exponential backoff and jitter
# (botocore's "standard" mode) before they reach a task; what still fails is left to the
# task's own retries. Errors about the request itself are never retried here.
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 10})


def _service_client(service: str) -> cached_property[Any]:
    """The platform's client of ``service``, made on first use and kept."""
    return cached_property(lambda clients: clients.client(service))


class AwsClients:
    """:param session: the credentials to act with; default: the standard AWS chain.
    :param config: botocore settings of the connection (proxies, timeouts); the retry
        settings above apply unless it sets its own."""

    def __init__(self, settings: AwsSettings, session: boto3.Session | None = None, config: Config | None = None):
        self.settings = settings
        self.session = session or boto3.Session()
        self.config = RETRIES.merge(config) if config else RETRIES

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.settings.region, config=self.config)

    @cached_property
    def dynamodb(self) -> Any:
        """The boto3 DynamoDB resource (typed attributes, Table helpers)."""
        return self.session.resource("dynamodb", region_name=self.settings.region, config=self.config)

    s3 = _service_client("s3")
    sagemaker = _service_client("sagemaker")
    sns = _service_client("sns")
    cloudwatch = _service_client("cloudwatch")
    logs = _service_client("logs")
    application_autoscaling = _service_client("application-autoscaling")
    sagemaker_runtime = _service_client("sagemaker-runtime")

    def sagemaker_runtime_within(self, timeout_s: float) -> Any:
        """A runtime client that gives up on a call after ``timeout_s`` and does not retry:
        the app client (``MLService``) owns the time-out and the retries of its calls."""
        key = round(timeout_s, 3)
        clients = self.__dict__.setdefault("_runtime_within", {})
        if key not in clients:
            config = self.config.merge(Config(connect_timeout=key, read_timeout=key,
                                              retries={"mode": "standard", "total_max_attempts": 1}))
            clients[key] = self.session.client("sagemaker-runtime", region_name=self.settings.region, config=config)
        return clients[key]


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def not_found(exc: Exception) -> bool:
    """SageMaker answers a describe of an unknown name with a ValidationException."""
    message = str(exc).lower()
    return error_code(exc) in ("ValidationException", "ResourceNotFound") and (
        "not found" in message or "could not find" in message or "does not exist" in message)
