"""The sandbox contains what it runs: a child cannot read the worker's secrets, reach the network,
write the store or the project's code, outlive itself, or run past its memory, CPU-time and
file-size limits; an archive with a link, ``..`` or a 10 GB member is refused by name."""

from __future__ import annotations

import io
import json
import os
import pwd
import socket
import sys
import tarfile
import time
from pathlib import Path

import psutil
import pytest

from findining_mlops.errors import ArchiveRefused
from findining_mlops.platform.sandbox import (
    SANDBOX_USER,
    Limits,
    TimeLimitExceeded,
    child_environment,
    run_child,
    sandbox_dir,
    unpack,
    workspace,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's own user needs root (make setup as root)")
SECRET = "worker-secret-93b1"
PROJECT = Path(__file__).resolve().parents[3]


@pytest.fixture
def box() -> Path:
    return sandbox_dir(workspace("test-") / "box")


DEFAULT_LIMITS = Limits()


def run_python(box: Path, code: str, limits: Limits = DEFAULT_LIMITS, timeout_s: float = 60):
    return run_child([sys.executable, "-c", code], env=child_environment(box), cwd=box, timeout_s=timeout_s,
                     limits=limits)


def test_a_child_runs_as_the_sandbox_user_with_a_clean_environment(box, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    done = run_python(box, "import json, os; print(json.dumps([os.getuid(), dict(os.environ)]))")
    uid, environment = json.loads(done.stdout)
    assert uid == pwd.getpwnam(SANDBOX_USER).pw_uid != os.getuid()
    assert SECRET not in json.dumps(environment)


def test_a_child_cannot_read_the_parents_environment_through_proc(box, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    done = run_python(box, f"open('/proc/{os.getpid()}/environ', 'rb').read()")
    assert done.returncode != 0 and "PermissionError" in done.stderr


def test_a_child_cannot_open_a_socket_to_localhost(box):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        done = run_python(box, f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)")
    assert done.returncode != 0 and "Network is unreachable" in done.stderr


@pytest.mark.parametrize("target", ["store", "registry", "code"])
def test_a_child_cannot_write_the_store_the_registry_or_the_projects_code(box, platform, home, target):
    path = {"store": platform.store.root / "models" / "planted.txt", "registry": home / "platform.db",
            "code": PROJECT / "plugins" / "findining_airflow" / "planted.py"}[target]
    if target == "store":
        path.parent.mkdir(parents=True, exist_ok=True)
    done = run_python(box, f"open({str(path)!r}, 'a').write('owned')")
    assert done.returncode != 0 and "PermissionError" in done.stderr
    assert not path.exists() or "owned" not in path.read_text(errors="replace")


def test_a_child_is_stopped_at_its_memory_limit(box):
    done = run_python(box, "bytearray(1024 ** 3)", limits=Limits(memory_bytes=512 * 1024**2))
    assert done.returncode != 0 and "MemoryError" in done.stderr


def test_a_child_is_stopped_at_its_cpu_time_limit(box):
    started = time.monotonic()
    done = run_python(box, "while True: pass", limits=Limits(cpu_seconds=1))
    assert done.returncode != 0 and time.monotonic() - started < 30


def test_a_child_cannot_write_a_file_past_its_size_limit(box):
    done = run_python(box, "open('big', 'wb').write(b'x' * 4 * 1024 ** 2)", limits=Limits(file_bytes=1024**2))
    assert done.returncode != 0 and "File too large" in done.stderr


def test_a_child_is_stopped_at_its_wall_time_limit(box):
    with pytest.raises(TimeLimitExceeded):
        run_python(box, "import time; time.sleep(60)", timeout_s=1)


def test_nothing_a_child_starts_outlives_it(box):
    done = run_python(box, "import subprocess; print(subprocess.Popen(['sleep', '300'], start_new_session=True).pid)")
    assert done.returncode == 0
    time.sleep(0.5)
    assert not [p for p in psutil.process_iter(["name", "cmdline"]) if p.info["cmdline"] == ["sleep", "300"]]


def _archive(path: Path, *members: tarfile.TarInfo) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() and member.size < 1024 else None)
    path.write_bytes(buffer.getvalue())
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, link: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.size, member.linkname = kind, (size if kind == tarfile.REGTYPE else 0), link
    return member


@pytest.mark.parametrize("member, why", [
    (_member("model.joblib", tarfile.SYMTYPE, link="/proc/self/environ"), "'model.joblib' is a link"),
    (_member("model.joblib", tarfile.LNKTYPE, link="/etc/passwd"), "'model.joblib' is a link"),
    (_member("../../plugins/findining_airflow/x.py"), "has a path outside the archive"),
    (_member("model.joblib", size=10 * 1024**3), "takes the archive past"),
], ids=["symlink", "hard-link", "dot-dot", "10GB-member"])
def test_an_unsafe_archive_is_refused_by_name_and_nothing_is_written(tmp_path, member, why):
    target = workspace("test-") / "model"
    archive = _archive(tmp_path / "model.tar.gz", member)
    with pytest.raises(ArchiveRefused, match=why):
        unpack(archive, target)
    assert not target.exists()
    assert not (PROJECT / "plugins" / "findining_airflow" / "x.py").exists()


def test_a_safe_archive_is_unpacked_and_left_read_only_to_the_sandbox(tmp_path):
    target = unpack(_archive(tmp_path / "model.tar.gz", _member("model.joblib")), workspace("test-") / "model")
    assert (target / "model.joblib").read_bytes() == b"x"
    assert target.stat().st_uid == (target / "model.joblib").stat().st_uid == os.getuid()
