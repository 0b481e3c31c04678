"""Version labels on SageMaker (moto): kept in the model package's customer metadata and
read back through the ListModelPackages listing; a label names one version."""

from __future__ import annotations

import boto3
import pytest
from aws_stack import REGION

from findining_mlops.errors import RegistryError
from findining_mlops.platform.ports import APPROVED
from findining_mlops.registry import versions


def register(aws, job: str, label: str | None = None):
    key = f"training/sentiment/{job}/output/model.tar.gz"
    aws.store.write_bytes(key, job.encode())
    return aws.registry.register("sentiment", key, status=APPROVED, metrics={}, lineage={}, reason="test",
                                 idempotency_key=job, label=label)


def test_labels_round_trip_through_the_model_package(aws):
    register(aws, "upload-1", "1.0.0")
    retrained = register(aws, "job-2")

    assert [(v.version, v.label) for v in aws.registry.list_versions("sentiment")] == [(1, "1.0.0"), (2, "1.1.0")]
    assert aws.registry.get("sentiment", 2).display == "v2 (1.1.0)" == retrained.display
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    listed = sagemaker.list_model_packages(ModelPackageGroupName="ai-restaurant-recommendation-sentiment")
    arn = next(p["ModelPackageArn"] for p in listed["ModelPackageSummaryList"] if p["ModelPackageVersion"] == 2)
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["CustomerMetadataProperties"]["VersionLabel"] == "1.1.0"
    assert versions.resolve(aws.registry, "sentiment", "1.0.0").version == 1
    aws.registry.update_status("sentiment", 1, "Rejected", "test")
    assert aws.registry.get("sentiment", 1).label == "1.0.0"


def test_a_taken_label_is_refused_and_nothing_is_registered(aws):
    register(aws, "upload-1", "1.1.0")
    with pytest.raises(RegistryError, match="v1 already has that label"):
        register(aws, "upload-2", "1.1.0")
    assert [v.version for v in aws.registry.list_versions("sentiment")] == [1]
    with pytest.raises(RegistryError, match=r"no version labelled '9\.9\.9'; its versions: v1 \(1\.1\.0\)"):
        versions.resolve(aws.registry, "sentiment", "9.9.9")
