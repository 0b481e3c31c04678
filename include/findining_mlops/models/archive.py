"""A model.tar.gz as the pipeline unpacks it: plain files and folders only, within caps.

Unpacking an uploaded archive is itself an attack surface (``filter="data"`` has had bypasses on
Python builds before 3.11.13), so it happens only inside the sandbox: ``platform.sandbox.unpack``
runs ``python -m findining_mlops.models.archive <target>`` there, and a model check
unpacks in its own sandboxed process. Nothing here loads a model.
"""

from __future__ import annotations

import sys
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

# a model.tar.gz holds a handful of files; far more, or more bytes than any model of the
# catalog unpacks to, is an archive built to exhaust the disk, not a model
MAX_ARCHIVE_MEMBERS = 1_000
MAX_ARCHIVE_BYTES = 2 * 1024**3


class UnsafeArchiveError(tarfile.TarError):
    """A member of an uploaded archive that is not unpacked: the message names it and why."""


def _why_unsafe(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` may not be unpacked, or None. On top of the ``data`` filter, whose checks
    have had bypasses on Python builds before 3.11.13: a model needs plain files and folders only."""
    if member.issym() or member.islnk():
        return f"is a link (to {member.linkname!r})"
    if not (member.isfile() or member.isdir()):
        return "is neither a file nor a folder"
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        return "has a path outside the archive"
    return None


def _checked_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Every member, read header by header, so that an oversized or unsafe one is refused
    before any of its data is read."""
    members: list[tarfile.TarInfo] = []
    unpacked = 0
    for member in tar:
        if len(members) == MAX_ARCHIVE_MEMBERS:
            raise UnsafeArchiveError(f"holds more than {MAX_ARCHIVE_MEMBERS} members")
        problem = _why_unsafe(member)
        if problem:
            raise UnsafeArchiveError(f"member {member.name!r} {problem}")
        unpacked += member.size
        if unpacked > MAX_ARCHIVE_BYTES:
            raise UnsafeArchiveError(f"member {member.name!r} ({member.size} bytes) takes the archive past "
                                     f"{MAX_ARCHIVE_BYTES} bytes unpacked")
        members.append(member)
    return members


def extract_artifact(archive: Path | IO[bytes], target: Path) -> Path:
    """Unpacks a model.tar.gz (a path, or a seekable file already open) of plain files and folders
    (``UnsafeArchiveError`` names any other member), within the size and member caps, with the
    ``data`` filter on top. Nothing is loaded: that runs the pickled code inside."""
    source = {"name": archive} if isinstance(archive, Path) else {"fileobj": archive}
    with tarfile.open(mode="r:gz", **source) as tar:
        tar.extractall(target, members=_checked_members(tar), filter="data")
    return target


def unpack_refusal(archive: Path | IO[bytes], target: Path) -> str | None:
    """Unpacks as ``extract_artifact`` does; None when it did, else why not, worded for a refusal."""
    try:
        extract_artifact(archive, target)
    except UnsafeArchiveError as exc:
        return f"is not a safe model.tar.gz: {exc}"
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        return f"is not a readable model.tar.gz: {exc}"
    return None


def main() -> int:
    """``python -m findining_mlops.models.archive <target>``: the archive comes in as standard input,
    a file its parent opened, so the sandbox never needs to read the parent's folders; a refusal is
    the last line of standard error, exit code 2."""
    refusal = unpack_refusal(sys.stdin.buffer, Path(sys.argv[1]))
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
