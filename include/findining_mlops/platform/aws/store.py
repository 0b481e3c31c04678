"""The artifact store on S3: the same keys as the local store, under ``s3://<bucket>/``.

Immutable artifacts use S3's conditional write (``If-None-Match: *``): the first writer of
a key wins and every later write is refused by S3 itself, with no check-then-write race."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from findining_mlops.errors import FindiningError, ImmutableArtifactError
from findining_mlops.platform.aws.clients import AwsClients, error_code

DELETE_BATCH = 1000  # DeleteObjects' limit


class S3ArtifactStore:
    def __init__(self, clients: AwsClients, bucket: str, kms_key: str = ""):
        self.clients = clients
        self.bucket = bucket
        self.kms_key = kms_key

    @property
    def _s3(self) -> Any:
        return self.clients.s3

    def _key(self, key: str) -> str:
        key = key.lstrip("/")
        if ".." in key.split("/"):
            raise FindiningError(f"store key {key!r} may not contain '..'")
        return key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey"):
                return False
            raise
        return True

    def list_keys(self, prefix: str) -> list[str]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
        return sorted(item["Key"] for page in pages for item in page.get("Contents", [])
                      if not item["Key"].endswith("/"))

    def etags(self, prefix: str) -> dict[str, str]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
        return {item["Key"]: item["ETag"].strip('"') for page in pages for item in page.get("Contents", [])
                if not item["Key"].endswith("/")}

    def version_id(self, key: str) -> str:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey"):
                raise FileNotFoundError(f"no object at {self.uri(key)}") from exc
            raise
        version = head.get("VersionId") or ""
        return "" if version == "null" else version  # "null": written while versioning was off

    def read_bytes(self, key: str, version_id: str = "") -> bytes:
        version = {"VersionId": version_id} if version_id else {}
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=self._key(key), **version)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404", "NoSuchVersion"):
                which = f"version {version_id} of " if version_id else ""
                raise FileNotFoundError(f"no object at {which}{self.uri(key)}") from exc
            raise

    def write_bytes(self, key: str, data: bytes, *, immutable: bool = False) -> str:
        extra = {"IfNoneMatch": "*"} if immutable else {}
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **self._encryption(), **extra)
        except ClientError as exc:
            if error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise ImmutableArtifactError(f"{self.uri(key)} already exists and is never overwritten") from exc
            raise
        return self.uri(key)

    def upload_file(self, path: Path, key: str, *, immutable: bool = False) -> str:
        if immutable:  # one conditional PUT (model tarballs are far below PutObject's 5 GB)
            return self.write_bytes(key, Path(path).read_bytes(), immutable=True)
        self._s3.upload_file(str(path), self.bucket, self._key(key), ExtraArgs=self._encryption())
        return self.uri(key)

    def download_file(self, key: str, path: Path, version_id: str = "") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        version = {"VersionId": version_id} if version_id else {}
        self._s3.download_file(self.bucket, self._key(key), str(path), ExtraArgs=version or None)
        return path

    def delete_prefix(self, prefix: str) -> None:
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            response = self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch],
                                                                             "Quiet": True})
            if response.get("Errors"):
                failed = ", ".join(f"{e['Key']} ({e['Code']})" for e in response["Errors"][:5])
                raise FindiningError(f"could not delete {len(response['Errors'])} object(s) under "
                                     f"{self.uri(prefix)}: {failed}")

    def _encryption(self) -> dict:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key} if self.kms_key else {}
