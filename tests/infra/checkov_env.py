"""checkov's own virtual environment: it pins an old boto3 and its own hcl2 fork, which clash
with the project's set, so it never shares the project's .venv. Created once from
infra/requirements-checkov.txt (+ constraints) and reused while those files are unchanged."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-checkov"
REQUIREMENTS = ROOT / "infra" / "requirements-checkov.txt"
CONSTRAINTS = ROOT / "infra" / "constraints-checkov.txt"
STAMP = VENV / ".installed"


class CheckovUnavailable(RuntimeError):
    pass


def checkov() -> Path:
    """The checkov executable, installing it first when the pins changed or it is missing."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()
    executable = VENV / "bin" / "checkov"
    if executable.exists() and STAMP.exists() and STAMP.read_text() == digest:
        return executable
    steps = [[sys.executable, "-m", "venv", str(VENV)],
             [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)]]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True)
        if result.returncode != 0:
            raise CheckovUnavailable(
                f"could not build checkov's virtual environment {VENV} ({' '.join(step[:4])} ... exited "
                f"{result.returncode}): {result.stderr.strip()[-2000:]}\nPyPI must be reachable once; "
                f"or install by hand: python3.11 -m venv {VENV} && "
                f"{VENV}/bin/pip install -r {REQUIREMENTS} -c {CONSTRAINTS}")
    STAMP.write_text(digest)
    return executable
