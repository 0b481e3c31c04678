"""The resolved compose file and what ``make compose-env`` generates, shared by tests/deploy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_support import ROOT, compose

from devtools.compose_env import main as compose_env_main


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    """``make compose-env``'s output: the ``.env`` and the secrets directory."""
    where = tmp_path_factory.mktemp("compose")
    env_file, secrets_dir = where / ".env", where / "secrets"
    assert compose_env_main(["--example", str(ROOT / ".env.example"), "--output", str(env_file),
                             "--secrets-dir", str(secrets_dir)]) == 0
    return env_file, secrets_dir


@pytest.fixture(scope="module")
def env_file(generated) -> Path:
    return generated[0]


@pytest.fixture(scope="module")
def secret_values(generated) -> dict[str, str]:
    """Each Docker secret's generated value, by name."""
    return {path.name: path.read_text() for path in generated[1].iterdir()}


@pytest.fixture(scope="module")
def config(env_file) -> dict:
    result = compose(env_file, "--profile", "flower", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
