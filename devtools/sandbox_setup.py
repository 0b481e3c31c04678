"""``python -m devtools.sandbox_setup``: the sandbox's user, made by ``make setup``.

Untrusted model code (``findining_mlops.platform.sandbox``) runs as ``findining-sandbox``, a
system user with no home and no login. Where this runs as root, it creates that user and makes
the interpreter reachable for it: a Python under ``/root`` (pyenv's) sits behind a folder only
root may enter, so the folders on the way get an ACL entry letting this one user pass through
(``setfacl -m u:findining-sandbox:x``; the ``acl`` package is installed when missing), nothing
more. It then proves the user can start the project's Python. Where it is not root, it says
what the sandbox will lack and changes nothing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

from findining_mlops.platform.sandbox import SANDBOX_USER

# the sandbox's Python must be this one, stdlib included, not a system Python found by accident
PROBE = "import sys, findining_mlops.models.archive, sklearn; print(sys.base_prefix)"


def main() -> int:
    if os.geteuid() != 0:
        print(f"note: not root, so the sandbox cannot run model code as a user of its own ({SANDBOX_USER}); "
              "it runs as you, in its own network namespace where the kernel allows, with resource limits")
        return 0
    user = _ensure_user()
    if _probe(user) == "":
        return 0
    for folder in _closed_folders(user):
        _allow_passage(folder)
    problem = _probe(user)
    if problem:
        print(f"error: the sandbox user {SANDBOX_USER} cannot start {sys.executable}: {problem}", file=sys.stderr)
        return 1
    return 0


def _ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", SANDBOX_USER], check=True)
        print(f"created the system user {SANDBOX_USER}, which runs untrusted model code")
        return pwd.getpwnam(SANDBOX_USER)


def _probe(user: pwd.struct_passwd) -> str:
    """'' when the user can start this Python and import the project, as the sandbox starts it, else why not."""
    done = subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--",
                           "env", "-i", sys.executable, "-c", PROBE], capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["no output"])[-1]
    if done.stdout.strip() != sys.base_prefix:
        return f"it starts with the standard library of {done.stdout.strip()}, not {sys.base_prefix}"
    return ""


def _closed_folders(user: pwd.struct_passwd) -> list[Path]:
    """Folders on the way to the interpreter, its libraries and the project that others may not enter."""
    import findining_mlops

    targets = {Path(sys.executable).resolve(), Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
               Path(findining_mlops.__file__).resolve()}
    closed = set()
    for target in targets:
        for folder in [target, *target.parents]:
            if folder.is_dir() and not folder.stat().st_mode & 0o001:
                closed.add(folder)
    return sorted(closed)


def _allow_passage(folder: Path) -> None:
    if shutil.which("setfacl") is None:
        if shutil.which("apt-get") is None:
            raise SystemExit(f"error: {folder} is closed to {SANDBOX_USER} and setfacl (package acl) is missing")
        subprocess.run(["apt-get", "install", "-y", "-q", "acl"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["setfacl", "-m", f"u:{SANDBOX_USER}:x", str(folder)], check=True)
    print(f"{SANDBOX_USER} may now pass through {folder} (ACL u:{SANDBOX_USER}:x)")


if __name__ == "__main__":
    sys.exit(main())
