"""The aws backend: S3, SageMaker (training, registry, endpoints), CloudWatch, DynamoDB and
SNS, through boto3 clients of the session it is given. Selected by ``FINDINING_BACKEND=aws``;
configured by ``findining_mlops.config.settings.AwsSettings`` (docs/aws.md)."""

from __future__ import annotations

import boto3
from botocore.config import Config

from findining_mlops.config.settings import AwsSettings
from findining_mlops.platform.aws.abtests import DynamoDBABTests
from findining_mlops.platform.aws.clients import AwsClients
from findining_mlops.platform.aws.endpoints import SageMakerEndpoints
from findining_mlops.platform.aws.metrics import CloudWatchMetrics
from findining_mlops.platform.aws.model_checks import SageMakerModelChecks
from findining_mlops.platform.aws.notifications import SnsNotifications
from findining_mlops.platform.aws.registry import SageMakerModelRegistry
from findining_mlops.platform.aws.store import S3ArtifactStore
from findining_mlops.platform.aws.training import SageMakerTrainingJobs
from findining_mlops.platform.ports import Platform


def aws_platform(settings: AwsSettings, session: boto3.Session | None = None, config: Config | None = None) -> Platform:
    """The platform acting with ``session``'s credentials (default: the standard AWS chain)."""
    clients = AwsClients(settings, session, config)
    store = S3ArtifactStore(clients, settings.bucket, settings.kms_key_arn)
    return Platform(
        store=store,
        training=SageMakerTrainingJobs(clients, settings, store),
        checks=SageMakerModelChecks(clients, settings, store),
        registry=SageMakerModelRegistry(clients, settings, store),
        endpoints=SageMakerEndpoints(clients, settings, store),
        metrics=CloudWatchMetrics(clients),
        notifications=SnsNotifications(clients, settings.alerts_topic_arn, store),
        abtests=DynamoDBABTests(clients, settings, store),
    )
