"""The registry of a model with hundreds of versions reads it in pages: SageMaker allows a
few DescribeModelPackage calls a second, so one per version throttles a listing (and with
it the artifact watch, the CLI and the report). Counted with botocore's event hooks on the
registry's own client, not timed."""

from __future__ import annotations

import json
from collections import Counter

import boto3
import pytest
from aws_stack import REGION

GROUP = "ai-restaurant-recommendation-sentiment"
VERSIONS = 230  # three pages of ListModelPackages


@pytest.fixture
def many_versions(aws):
    """``VERSIONS`` packages as the registry writes them: odd versions Approved, even Rejected."""
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    for version in range(1, VERSIONS + 1):
        documents = f"registry/sentiment/{version}"
        aws.store.write_bytes(f"{documents}/metrics.json", json.dumps({"macro_f1": version / 1000}).encode())
        aws.store.write_bytes(f"{documents}/lineage.json", json.dumps({"training_job": f"job-{version}"}).encode())
        sm.create_model_package(
            ModelPackageGroupName=GROUP, ModelPackageDescription=f"reason {version}",
            ModelApprovalStatus="Approved" if version % 2 else "Rejected",
            CustomerMetadataProperties={"Model": "sentiment", "IdempotencyKey": f"job-{version}",
                                        "ArtifactKey": f"models/sentiment/{version}/model.tar.gz",
                                        "MetricsUri": aws.store.uri(f"{documents}/metrics.json"),
                                        "LineageUri": aws.store.uri(f"{documents}/lineage.json")})
    return aws.registry


@pytest.fixture
def sagemaker_calls(many_versions) -> Counter:
    """The SageMaker operations the registry calls from now on, by name."""
    calls: Counter = Counter()

    def count(model, **_):
        calls[model.name] += 1

    many_versions.clients.sagemaker.meta.events.register("before-call.sagemaker", count)
    return calls


def test_listing_hundreds_of_versions_takes_one_call_per_page_and_no_describe(many_versions, sagemaker_calls):
    versions = many_versions.list_versions("sentiment")

    assert [v.version for v in versions] == list(range(1, VERSIONS + 1))
    v7 = versions[6]
    assert (v7.status, v7.reason, v7.artifact_key, v7.metrics, v7.lineage) == (
        "Approved", "reason 7", "models/sentiment/7/model.tar.gz", {"macro_f1": 0.007}, {"training_job": "job-7"})
    assert sagemaker_calls == {"ListModelPackages": 3}


def test_latest_and_get_read_the_listing_not_every_package(many_versions, sagemaker_calls):
    assert many_versions.latest("sentiment").version == VERSIONS - 1  # the newest Approved (odd) one
    assert many_versions.get("sentiment", 150).status == "Rejected"
    assert sagemaker_calls["DescribeModelPackage"] == 0
    assert sagemaker_calls["ListModelPackages"] <= 2 + 3  # Approved only: two pages; all: three


def test_a_status_note_reaches_the_listing(many_versions, sagemaker_calls):
    many_versions.update_status("sentiment", 151, "Rejected", note="canary rolled back: Invocation5XXErrors")

    listed = {v.version: v for v in many_versions.list_versions("sentiment")}
    assert (listed[151].status, listed[151].status_note) == ("Rejected", "canary rolled back: Invocation5XXErrors")
    assert listed[153].status_note == ""
    assert many_versions.get("sentiment", 151).status_note == "canary rolled back: Invocation5XXErrors"
    assert sagemaker_calls["DescribeModelPackage"] <= 1  # the update itself reads the one package it changes


def test_registering_next_to_hundreds_of_versions_describes_at_most_the_new_one(
        many_versions, sagemaker_calls, use_catalog):
    from simulation import SENTIMENT

    use_catalog(sentiment=SENTIMENT)
    many_versions.store.write_bytes("training/sentiment/job-new/output/model.tar.gz", b"model bytes")
    register = dict(status="Approved", metrics={"macro_f1": 0.9}, lineage={"training_job": "job-new"},
                    reason="drift", idempotency_key="job-new")

    created = many_versions.register("sentiment", "training/sentiment/job-new/output/model.tar.gz", **register)
    again = many_versions.register("sentiment", "training/sentiment/job-new/output/model.tar.gz", **register)

    assert created.version == again.version == VERSIONS + 1
    assert again.metrics == {"macro_f1": 0.9}
    assert many_versions.store.read_bytes(f"models/sentiment/{VERSIONS + 1}/model.tar.gz") == b"model bytes"
    assert sagemaker_calls["DescribeModelPackage"] <= 2  # confirming the created package and the retried one
