"""docker-compose.yaml's topology, checked by the real Compose v2 implementation (tests/deploy/conftest.py):
it validates, starts in the right order, publishes on localhost only, and runs the project image."""

from __future__ import annotations

import re
import subprocess

from deploy_support import ROOT, compose

from devtools.compose_env import main as compose_env_main

AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker", "flower"}


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


def test_compose_env_never_overwrites_existing_secrets(tmp_path, capsys):
    existing = tmp_path / "secrets"
    existing.mkdir()
    (existing / "fernet_key").write_text("the-key-the-database-was-encrypted-with")
    assert compose_env_main(["--example", str(ROOT / ".env.example"), "--output", str(tmp_path / ".env"),
                             "--secrets-dir", str(existing)]) == 1
    assert "remove" in capsys.readouterr().err
    assert [p.name for p in existing.iterdir()] == ["fernet_key"]
    assert (existing / "fernet_key").read_text() == "the-key-the-database-was-encrypted-with"
    assert not (tmp_path / ".env").exists()


def test_compose_env_never_overwrites_an_existing_env(tmp_path, capsys):
    existing = tmp_path / ".env"
    existing.write_text("AIRFLOW_USERS=admin:admin,ana:op\n")
    assert compose_env_main(["--example", str(ROOT / ".env.example"), "--output", str(existing),
                             "--secrets-dir", str(tmp_path / "secrets")]) == 1
    assert "remove" in capsys.readouterr().err
    assert existing.read_text() == "AIRFLOW_USERS=admin:admin,ana:op\n"
    assert not (tmp_path / "secrets").exists()


def test_generated_env_and_secrets_are_ignored_by_git():
    for generated in (".env", ".secrets/fernet_key"):
        result = subprocess.run(["git", "check-ignore", "-q", generated], cwd=ROOT)
        assert result.returncode == 0, f"{generated} is not git-ignored"


def test_env_example_holds_settings_only():
    """Secrets are Docker secrets now: a secret variable left in .env would look like it still works."""
    names = [line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
             if "=" in line and not line.startswith("#")]
    assert names and not [name for name in names if re.search(r"PASSWORD|SECRET|FERNET", name)]
