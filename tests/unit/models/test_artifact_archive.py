"""An uploaded model.tar.gz is unpacked only when it holds plain files and folders, within a
size and a member cap: links, devices, paths leaving the archive and a member declaring 10 GB
are refused by name, before anything of them is written (issue 29, finding 4)."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from findining_mlops.models import archive as model_archive
from findining_mlops.models.archive import UnsafeArchiveError, extract_artifact


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **fields) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def _archive(tmp_path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    path = tmp_path / "model.tar.gz"
    path.write_bytes(gzip.compress(raw.getvalue()))
    return path


def _declaring_ten_gigabytes(tmp_path: Path) -> Path:
    """A member header that declares 10 GB, followed by no data: refusing it needs no disk."""
    info = tarfile.TarInfo("model.joblib")
    info.size = 10 * 1024**3
    path = tmp_path / "model.tar.gz"
    path.write_bytes(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT)))
    return path


def test_plain_files_and_folders_are_unpacked(tmp_path):
    folder = tarfile.TarInfo("code")
    folder.type = tarfile.DIRTYPE
    archive = _archive(tmp_path, _member("model.joblib", data=b"weights"), (folder, b""),
                       _member("code/inference.py", data=b"print('hi')"))
    target = extract_artifact(archive, tmp_path / "out")
    assert (target / "model.joblib").read_bytes() == b"weights"
    assert (target / "code" / "inference.py").is_file()


@pytest.mark.parametrize("member, named, why", [
    (_member("model.joblib", tarfile.SYMTYPE, linkname="/proc/1/environ"), "model.joblib", "is a link"),
    (_member("model.joblib", tarfile.LNKTYPE, linkname="/etc/passwd"), "model.joblib", "is a link"),
    (_member("../plugins/findining_airflow/evil.py", data=b"import os"), "../plugins/findining_airflow/evil.py",
     "has a path outside the archive"),
    (_member("/tmp/evil.py", data=b"import os"), "/tmp/evil.py", "has a path outside the archive"),
    (_member("dev/mem", tarfile.CHRTYPE, devmajor=1, devminor=1), "dev/mem", "is neither a file nor a folder"),
    (_member("queue", tarfile.FIFOTYPE), "queue", "is neither a file nor a folder"),
])
def test_a_member_that_is_not_a_plain_file_or_folder_inside_the_archive_is_refused_by_name(
        tmp_path, member, named, why):
    archive = _archive(tmp_path, _member("evaluation.json", data=b"{}"), member)
    with pytest.raises(UnsafeArchiveError, match=why) as refused:
        extract_artifact(archive, tmp_path / "out")
    assert repr(named) in str(refused.value)
    assert not (tmp_path / "out").exists()  # nothing was written, not even the good member
    assert not (tmp_path / "plugins").exists()


def test_a_member_declaring_ten_gigabytes_is_refused_before_its_data_is_read(tmp_path):
    with pytest.raises(UnsafeArchiveError, match=r"member 'model.joblib' \(10737418240 bytes\) takes the archive past"):
        extract_artifact(_declaring_ten_gigabytes(tmp_path), tmp_path / "out")


def test_more_members_than_a_model_has_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(model_archive, "MAX_ARCHIVE_MEMBERS", 3)
    archive = _archive(tmp_path, *(_member(f"part-{n}", data=b"x") for n in range(4)))
    with pytest.raises(UnsafeArchiveError, match="holds more than 3 members"):
        extract_artifact(archive, tmp_path / "out")
