"""The aws backend: S3, SageMaker (training, registry, endpoints), CloudWatch, DynamoDB and
SNS, through the Amazon provider's hooks. Selected by ``FINDINING_BACKEND=aws``; configured
by ``findining_mlops.settings.AwsSettings`` (docs/aws.md)."""

from __future__ import annotations

from findining_mlops.platform.aws.clients import AwsClients  # noqa: F401  (re-exported)
from findining_mlops.platform.aws.endpoints import SageMakerEndpoints
from findining_mlops.platform.aws.experiments import DynamoDBExperiments
from findining_mlops.platform.aws.metrics import CloudWatchMetrics
from findining_mlops.platform.aws.notifications import SnsNotifications
from findining_mlops.platform.aws.registry import SageMakerModelRegistry
from findining_mlops.platform.aws.store import S3ArtifactStore
from findining_mlops.platform.aws.training import SageMakerTrainingJobs
from findining_mlops.platform.ports import Platform
from findining_mlops.settings import AwsSettings


def aws_platform(settings: AwsSettings) -> Platform:
    clients = AwsClients(settings)
    store = S3ArtifactStore(clients, settings.bucket, settings.kms_key_arn)
    return Platform(
        store=store,
        training=SageMakerTrainingJobs(clients, settings, store),
        registry=SageMakerModelRegistry(clients, settings, store),
        endpoints=SageMakerEndpoints(clients, settings, store),
        metrics=CloudWatchMetrics(clients),
        notifications=SnsNotifications(clients, settings.alerts_topic_arn),
        experiments=DynamoDBExperiments(clients, settings, store),
    )
