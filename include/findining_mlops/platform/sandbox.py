"""Child processes for code the pipeline runs on someone else's behalf: training scripts and
uploaded model tarballs.

The Airflow worker holds AWS credentials and Airflow connections (``AWS_*``,
``AIRFLOW_CONN_*``); a child gets none of that, only what running Python needs, the way a
SageMaker container gets only its ``SM_*`` contract. A child also runs in its own process
group, so a time limit stops it and whatever it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import suppress
from pathlib import Path

# what the interpreter and its libraries need to start; nothing here is a secret
INHERITED_VARIABLES = ("PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP")


def child_environment(home: Path, **variables: str) -> dict[str, str]:
    """The worker's interpreter settings (import path, locale, temp dir) plus ``variables``.

    ``HOME`` is ``home``, not the worker's: ``~/.aws/credentials`` and ``~/.netrc`` stay
    out of reach."""
    env = {name: value for name, value in os.environ.items()
           if name in INHERITED_VARIABLES or name.startswith("LC_")}
    return {**env, "HOME": str(home), **variables}


class TimeLimitExceeded(Exception):
    """The child ran past its time limit and was stopped."""


def run_child(command: list[str], *, env: dict[str, str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess:
    """Runs ``command`` in a new process group with its output captured; past ``timeout_s``
    the whole group is killed and TimeLimitExceeded raised."""
    with subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", start_new_session=True) as process:
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
