"""Terraform state never lands in the repository: the stack keeps it in S3, encrypted and locked,
one key per environment; and .gitignore keeps out local state, plans and every file the
deployment steps in docs/aws.md write (checked with git itself)."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import hcl2
import pytest
from terraform_stack import ENVIRONMENTS, STACK, literal, tfvars

REPO = STACK.parents[1]
AWS_GUIDE = REPO / "docs" / "aws.md"


def backend_file(environment: str) -> Path:
    return STACK / "environments" / f"{environment}.s3.tfbackend"


def backend_config(environment: str) -> dict:
    with backend_file(environment).open() as handle:
        return literal(hcl2.load(handle))


def _terraform_block() -> dict:
    with (STACK / "versions.tf").open() as handle:
        [settings] = hcl2.load(handle)["terraform"]
    return settings


def _ignored(path: str) -> bool:
    """Whether .gitignore's rules ignore ``path`` (relative to the repository; it need not exist)."""
    result = subprocess.run(["git", "check-ignore", "--quiet", "--no-index", path], cwd=REPO,
                            capture_output=True, text=True, timeout=30)
    if result.returncode not in (0, 1):
        pytest.fail(f"git check-ignore {path}: {result.stderr.strip()}")
    return result.returncode == 0


@cache
def deployment_step_outputs() -> set[str]:
    """The names of the files the shell block under "### Steps" in docs/aws.md writes: shell
    redirections, ``--out``, ``zip`` archives and ``pip download -d`` directories."""
    section = AWS_GUIDE.read_text().split("### Steps", 1)[1]
    script = section.split("```bash", 1)[1].split("```", 1)[0]
    written = re.findall(r"(?:[^0-9&]>|--out|zip -qr|\s-d)\s+(\S+)", script)
    return {Path(name).name for name in written}


def test_the_stack_keeps_its_state_in_s3_configured_per_environment():
    settings = _terraform_block()
    assert [list(backend) for backend in settings.get("backend", [])] == [['"s3"']], \
        "versions.tf: the terraform block needs exactly one backend, s3"
    assert literal(settings["required_version"]) == ">= 1.11.0", "use_lockfile is generally available from 1.11"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_has_an_encrypted_locked_backend_in_its_region(environment):
    assert backend_file(environment).exists(), f"{environment}.tfvars has no {backend_file(environment).name}"
    config = backend_config(environment)
    assert config.keys() == {"bucket", "key", "region", "encrypt", "use_lockfile"}, sorted(config)
    assert config["encrypt"] is True and config["use_lockfile"] is True, config
    assert "dynamodb_table" not in config  # deprecated since Terraform 1.11; the lock file replaces it
    assert config["region"] == tfvars(environment)["aws_region"]
    assert f"/{environment}/" in config["key"] and config["key"].endswith(".tfstate"), config["key"]


def test_every_tfvars_has_a_backend_file_and_no_two_environments_share_a_state_key():
    environments = sorted(path.name.removesuffix(".tfvars") for path in (STACK / "environments").glob("*.tfvars"))
    assert environments == sorted(ENVIRONMENTS)
    locations = {(backend_config(env)["bucket"], backend_config(env)["key"]) for env in environments}
    assert len(locations) == len(environments), locations


def test_the_deployment_steps_are_read_from_the_guide():
    """The parser finds what the steps are known to write (so a miss is the guide's change, not the regex's)."""
    assert {"outputs-dev.json", "startup.sh", "plugins.zip", "wheels", "mwaa-requirements.txt",
            "requirements-mwaa.txt"} <= deployment_step_outputs()


@pytest.mark.parametrize("path", sorted(deployment_step_outputs()) + [
    "outputs-production.json", "wheels/numpy-2.0.0-cp312-cp312-manylinux_2_28_x86_64.whl",
    "infra/terraform/terraform.tfstate", "infra/terraform/terraform.tfstate.backup",
    "infra/terraform/.terraform.tfstate.lock.info", "infra/terraform/.terraform/terraform.tfstate",
    "infra/terraform/.terraform/providers/registry.terraform.io/hashicorp/aws/6.20.0/linux_amd64/x",
    "infra/terraform/terraform.tfstate.d/dev/terraform.tfstate", "infra/terraform/dev.tfplan",
    "infra/terraform/crash.log", "infra/terraform/crash.20260101.log"])
def test_git_ignores_state_plans_and_what_the_deployment_writes(path):
    assert _ignored(path), f"{path} is one `git add` from the history; add it to .gitignore"


@pytest.mark.parametrize("path", [
    *(f"infra/terraform/environments/{env}.s3.tfbackend" for env in ENVIRONMENTS),
    *(f"infra/terraform/environments/{env}.tfvars" for env in ENVIRONMENTS),
    "infra/terraform/.terraform.lock.hcl", "infra/terraform/versions.tf", "airflow/startup.sh",
    "plugins/findining_airflow/plugin.py", "requirements.txt"])
def test_git_keeps_the_configuration(path):
    assert not _ignored(path), f".gitignore hides {path}, which belongs in the repository"
