"""The registry copies the version of an upload that was checked (moto, a versioned bucket as
the stack's): bytes written over it later are not what gets registered, and a check whose
version is gone, or whose hash the bytes do not have, registers nothing."""

from __future__ import annotations

import hashlib

import boto3
import pytest
from aws_stack import BUCKET, REGION

from findining_mlops.errors import RegistryError
from findining_mlops.platform.ports import APPROVED, CheckedArtifact

UPLOAD = "models/sentiment/1.1.0/model.tar.gz"


@pytest.fixture
def versioned(aws):
    """The stack's bucket keeps versions (infra/terraform/storage.tf)."""
    boto3.client("s3", region_name=REGION).put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return aws


def register(aws, checked: CheckedArtifact):
    return aws.registry.register("sentiment", UPLOAD, status=APPROVED, metrics={}, lineage={}, reason="test",
                                 idempotency_key="upload", label="1.1.0", checked=checked)


def test_the_checked_version_is_registered_though_the_key_was_written_again(versioned):
    versioned.store.write_bytes(UPLOAD, b"checked bytes")
    checked = CheckedArtifact(versioned.store.version_id(UPLOAD), hashlib.sha256(b"checked bytes").hexdigest())
    assert checked.version_id
    versioned.store.write_bytes(UPLOAD, b"unchecked bytes")

    version = register(versioned, checked)
    assert versioned.store.read_bytes(version.artifact_key) == b"checked bytes"
    assert versioned.store.read_bytes(UPLOAD) == b"unchecked bytes"


def test_bytes_without_the_checked_hash_register_nothing(versioned):
    versioned.store.write_bytes(UPLOAD, b"other bytes")
    checked = CheckedArtifact(versioned.store.version_id(UPLOAD), hashlib.sha256(b"checked bytes").hexdigest())

    with pytest.raises(RegistryError, match=rf"s3://{BUCKET}/{UPLOAD} is not the object that was checked: "
                                            rf"the check read sha256 {checked.sha256}, the registration found "
                                            rf"sha256 {hashlib.sha256(b'other bytes').hexdigest()}"):
        register(versioned, checked)
    assert versioned.registry.list_versions("sentiment") == []
    assert not versioned.store.exists("models/sentiment/1/model.tar.gz")


def test_a_checked_version_that_is_gone_registers_nothing(versioned):
    versioned.store.write_bytes(UPLOAD, b"checked bytes")
    version_id = versioned.store.version_id(UPLOAD)
    boto3.client("s3", region_name=REGION).delete_object(Bucket=BUCKET, Key=UPLOAD, VersionId=version_id)

    with pytest.raises(RegistryError, match=f"no object at version {version_id} of s3://{BUCKET}/{UPLOAD}"):
        register(versioned, CheckedArtifact(version_id, hashlib.sha256(b"checked bytes").hexdigest()))
    assert versioned.registry.list_versions("sentiment") == []


def test_download_reads_the_version_asked_for(versioned, tmp_path):
    versioned.store.write_bytes(UPLOAD, b"first")
    first = versioned.store.version_id(UPLOAD)
    versioned.store.write_bytes(UPLOAD, b"second")
    assert versioned.store.download_file(UPLOAD, tmp_path / "a", first).read_bytes() == b"first"
    assert versioned.store.download_file(UPLOAD, tmp_path / "b").read_bytes() == b"second"


def test_a_bucket_without_versioning_has_no_version_ids(aws):
    aws.store.write_bytes(UPLOAD, b"bytes")
    assert aws.store.version_id(UPLOAD) == ""
