"""The sandbox: where code the pipeline runs on someone else's behalf runs — an uploaded model's
pickle, a training script, a model server. Loading a model runs whatever its pickle says, so
no process that holds credentials (an Airflow task, the scheduler, the API server) ever does.

A sandboxed process gets, as a SageMaker container would:
- its own **user** (``findining-sandbox``, created by ``make setup`` where it runs as root):
  the worker's ``/proc/<pid>/environ``, the store, the registry's database and the project's
  code belong to another user and are out of its reach; it writes only into a folder made for it;
- its own **network namespace**, with nothing in it: no instance-metadata or container
  credential endpoint, no 127.0.0.1 services, no internet. A model server still answers,
  on a socket its supervisor opened before the sandbox began (``serving.server.pool``);
- **resource limits** (address space, CPU time, file size, processes) and ``no_new_privs``;
- a **clean environment**: what starting Python needs, nothing else.

Where this process is not root, it cannot switch users: the child then runs as this user, in a
user and network namespace of its own where the kernel allows one, with the same limits; a
warning says once which protections are missing. Where it is root and the user is missing,
nothing untrusted runs (SandboxUnavailable names the set-up step).
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from findining_mlops.errors import ArchiveRefused, SandboxUnavailable

log = logging.getLogger(__name__)
SANDBOX_USER = "findining-sandbox"
SANDBOX_USER_ENV = "FINDINING_SANDBOX_USER"  # another name for the user, where the set-up chose one
SANDBOX_ROOT_ENV = "FINDINING_SANDBOX_ROOT"
# what the interpreter and its libraries need to start; nothing here is a secret
INHERITED_VARIABLES = ("PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "TZ", SANDBOX_ROOT_ENV)
GIB = 1024**3
UNPACK_TIME_LIMIT_S = 120.0  # 2 GiB at the least a disk does; an archive slower than this is not a model


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed process (``setrlimit``); ``cpu_seconds`` None for a server,
    which lives as long as its endpoint."""

    memory_bytes: int = 4 * GIB  # address space: scikit-learn and its BLAS reserve more than they touch
    cpu_seconds: int | None = 900
    file_bytes: int = 2 * GIB
    processes: int = 512  # per user: every sandboxed process of the machine counts


CHECK_LIMITS = Limits()
TRAINING_LIMITS = Limits(cpu_seconds=4 * 3600)
SERVER_LIMITS = Limits(cpu_seconds=None)


@dataclass(frozen=True)
class Isolation:
    """What this process can do to contain a child."""

    user: pwd.struct_passwd | None  # the sandbox user; None: the child runs as this process's user
    network: str  # "namespace" (root), "user-namespace" (unprivileged), or "none"

    @property
    def missing(self) -> list[str]:
        gaps = [] if self.user else ["a user of its own (this process is not root)"]
        return gaps + (["a network namespace (the kernel refuses one)"] if self.network == "none" else [])


TOOLS = ("unshare", "prlimit", "setpriv", "env")


@functools.cache
def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SandboxUnavailable(f"the sandbox needs util-linux's {name}, which is not on PATH")
    return path


@functools.cache
def isolation() -> Isolation:
    """This process's isolation, found once. Root must have the sandbox user: SandboxUnavailable otherwise."""
    for tool in TOOLS:
        _tool(tool)
    if os.geteuid() == 0:
        name = os.environ.get(SANDBOX_USER_ENV, SANDBOX_USER)
        try:
            return Isolation(pwd.getpwnam(name), "namespace")
        except KeyError:
            raise SandboxUnavailable(
                f"untrusted model code runs as the user {name!r}, which does not exist: run `make setup` "
                f"(or `python -m devtools.sandbox_setup`) as root to create it") from None
    probe = subprocess.run([_tool("unshare"), "--user", "--map-current-user", "--net", "true"], capture_output=True)
    found = Isolation(None, "user-namespace" if probe.returncode == 0 else "none")
    log.warning("the sandbox runs untrusted model code without %s; run the pipeline as root with "
                "`make setup` done for the full sandbox", " and without ".join(found.missing))
    return found


def child_environment(home: Path, **variables: str) -> dict[str, str]:
    """The worker's interpreter settings (import path, locale) plus ``variables``: no ``AWS_*``,
    no ``AIRFLOW_CONN_*``, nothing else of the worker's. ``HOME`` and ``TMPDIR`` are ``home``:
    ``~/.aws/credentials`` and ``~/.netrc`` stay out of reach."""
    env = {name: value for name, value in os.environ.items()
           if name in INHERITED_VARIABLES or name.startswith("LC_")}
    return {**env, "HOME": str(home), "TMPDIR": str(home), **variables}


def sandboxed(command: list[str], env: dict[str, str], limits: Limits, *, own_pids: bool = True) -> list[str]:
    """``command`` wrapped so it starts inside the sandbox with exactly ``env``.

    ``own_pids`` gives it a PID namespace whose processes all die with it, so nothing it starts
    outlives it; a fork server must not have one (its children's pids are reported to us)."""
    found = isolation()
    namespaces = [_tool("unshare")]
    if found.network == "user-namespace":
        namespaces += ["--user", "--map-current-user", "--net"]
    elif found.network == "namespace":
        namespaces += ["--net"]
    if own_pids:
        namespaces += ["--pid", "--kill-child"]
    rlimits = [_tool("prlimit"), f"--as={limits.memory_bytes}", f"--fsize={limits.file_bytes}",
               f"--nproc={limits.processes}", "--core=0"]
    if limits.cpu_seconds is not None:
        rlimits.append(f"--cpu={limits.cpu_seconds}")
    user = [_tool("setpriv"), "--no-new-privs"]
    if found.user is not None:
        user += [f"--reuid={found.user.pw_uid}", f"--regid={found.user.pw_gid}", "--clear-groups"]
    variables = [f"{name}={value}" for name, value in sorted(env.items())]
    return [*namespaces, "--", *rlimits, "--", *user, "--", _tool("env"), "-i", *variables, *command]


def launcher_script(folder: Path, python: str, env: dict[str, str], limits: Limits) -> Path:
    """An executable that starts ``python`` in the sandbox with its arguments: for multiprocessing's
    fork server (``set_executable``), which takes an interpreter path, not a command line."""
    script = folder / "sandboxed-python"
    command = shlex.join(sandboxed([python], env, limits, own_pids=False))
    script.write_text(f'#!/bin/sh\nexec {command} "$@"\n', encoding="utf-8")
    script.chmod(0o700)
    return script


def sandbox_root() -> Path:
    """The one folder the sandbox can reach of ours (``FINDINING_SANDBOX_ROOT``, by default
    ``/tmp/findining-sandbox-<uid>``): every workspace, unpacked model and launcher lives under
    it, so the store, ``FINDINING_HOME`` and the project may stay closed to the sandbox user.
    Ours and mode 0711 (the sandbox passes through, never lists), else SandboxUnavailable: in a
    shared ``/tmp`` another user could have made it first."""
    root = Path(os.environ.get(SANDBOX_ROOT_ENV) or f"/tmp/findining-sandbox-{os.getuid()}")
    with suppress(FileExistsError):
        root.mkdir(mode=0o711, parents=True)
    found = os.lstat(root)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
        raise SandboxUnavailable(f"{root} is not a folder of this user (uid {os.getuid()}); "
                                 f"remove it or set {SANDBOX_ROOT_ENV} to another place")
    root.chmod(0o711)
    return root


def workspace(prefix: str) -> Path:
    """A new folder under the sandbox root, this process's, which the sandbox may read but not list."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=sandbox_root()))
    folder.chmod(0o711)
    return folder


def sandbox_dir(path: Path) -> Path:
    """A fresh folder the sandboxed process may write (only it and this process: mode 0700)."""
    path.mkdir(parents=True, exist_ok=False)
    user = isolation().user
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(0o700)
    return path


def take_back(path: Path) -> None:
    """Makes what a sandboxed process wrote under ``path`` this process's and read-only to the
    sandbox: a later sandboxed process cannot rewrite a model another one unpacked."""
    if isolation().user is None:
        return
    for folder, dirs, files in os.walk(path, followlinks=False):
        for name in [*dirs, *files]:
            os.chown(os.path.join(folder, name), os.getuid(), os.getgid(), follow_symlinks=False)
        os.chown(folder, os.getuid(), os.getgid())
        os.chmod(folder, 0o755)


def unpack(archive: Path, target: Path, timeout_s: float = UNPACK_TIME_LIMIT_S) -> Path:
    """Unpacks the model.tar.gz ``archive`` into ``target`` (a new folder under the sandbox root) inside the sandbox
    (``models.archive``), then takes the files back; ArchiveRefused says why it would not."""
    import sys

    sandbox_dir(target)
    try:
        with archive.open("rb") as handle:
            done = run_child([sys.executable, "-m", "findining_mlops.models.archive", str(target)],
                             env=child_environment(target), cwd=target, timeout_s=timeout_s, stdin=handle)
    except TimeLimitExceeded:
        shutil.rmtree(target, ignore_errors=True)
        raise ArchiveRefused(f"{archive.name} was not unpacked within {timeout_s:g} s") from None
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        reason = (done.stderr.strip().splitlines() or [f"the unpacking process exited with {done.returncode}"])[-1]
        raise ArchiveRefused(reason)
    take_back(target)
    return target


class TimeLimitExceeded(Exception):
    """The child ran past its time limit and was stopped."""


def run_child(command: list[str], *, env: dict[str, str], cwd: Path, timeout_s: float,
              limits: Limits = CHECK_LIMITS, stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess:
    """Runs ``command`` in the sandbox with its output captured; past ``timeout_s`` the whole
    process group is killed (its PID namespace with it) and TimeLimitExceeded raised."""
    wrapped = sandboxed(command, env, limits)
    with subprocess.Popen(wrapped, env={}, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, errors="replace", start_new_session=True) as process:
        try:
            out, err = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()  # not communicate(): a descendant that left the group may hold the pipes open
            raise TimeLimitExceeded(f"{command[0]} did not finish within {timeout_s:g} s") from None
        finally:
            if process.poll() is None:  # interrupted some other way: leave nothing behind
                _kill_group(process)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _kill_group(process: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
