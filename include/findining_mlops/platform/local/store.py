"""A folder that behaves like an S3 bucket: same keys, atomic writes, immutable artifacts."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from findining_mlops.errors import FindiningError, ImmutableArtifactError


class LocalArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        key = key.lstrip("/")
        if ".." in Path(key).parts:
            raise FindiningError(f"store key {key!r} may not contain '..'")
        return self.root / key

    def uri(self, key: str) -> str:
        return self.path(key).resolve().as_uri()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        # like S3: a prefix is a string prefix, usually a "folder/"
        folder = base if prefix.endswith("/") or base.is_dir() else base.parent
        if not folder.is_dir():
            return []
        keys = []
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix.lstrip("/")):
                    keys.append(key)
        return sorted(keys)

    def etags(self, prefix: str) -> dict[str, str]:
        # every write publishes a new file (os.replace / link), so its inode, size and
        # modification time name the version without reading the bytes
        etags = {}
        for key in self.list_keys(prefix):
            stat = self.path(key).stat()
            etags[key] = f"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"
        return etags

    def version_id(self, key: str) -> str:
        return ""  # a folder keeps one version of a file: its hash names the bytes

    def read_bytes(self, key: str, version_id: str = "") -> bytes:
        self._no_versions(key, version_id)
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"no object at {self.uri(key)}") from exc

    def write_bytes(self, key: str, data: bytes, *, immutable: bool = False) -> str:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self._publish(Path(tmp), target, immutable)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return self.uri(key)

    def upload_file(self, path: Path, key: str, *, immutable: bool = False) -> str:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            self._publish(Path(tmp), target, immutable)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return self.uri(key)

    def download_file(self, key: str, path: Path, version_id: str = "") -> Path:
        self._no_versions(key, version_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path(key), path)
        return path

    def delete_prefix(self, prefix: str) -> None:
        for key in self.list_keys(prefix):
            self.path(key).unlink(missing_ok=True)

    def _no_versions(self, key: str, version_id: str) -> None:
        if version_id:
            raise FindiningError(f"{self.uri(key)}: the local store keeps no versions, so it cannot read "
                                 f"version {version_id!r}")

    @staticmethod
    def _publish(tmp: Path, target: Path, immutable: bool) -> None:
        if immutable:
            # link() fails if the target exists: an immutable artifact is written once
            try:
                os.link(tmp, target)
            except FileExistsError as exc:
                raise ImmutableArtifactError(f"{target} already exists and is never overwritten") from exc
        else:
            os.replace(tmp, target)
