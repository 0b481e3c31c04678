"""The domain library (``include/findining_mlops``) stays free of Airflow, as the design's
layers say: the CLI, the training container and the tests use it without an Airflow
installation or connection, and the AWS adapters take a boto3 session instead of hooks."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import findining_mlops

PACKAGE = Path(findining_mlops.__file__).parent

IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import findining_mlops

modules = sorted(m.name for m in pkgutil.walk_packages(findining_mlops.__path__, "findining_mlops."))
for name in modules:
    importlib.import_module(name)
print(json.dumps({"imported": modules,
                  "airflow": sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))}))
"""


def airflow_imports(path: Path) -> list[str]:
    """``import airflow...`` / ``from airflow... import`` statements anywhere in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path.relative_to(PACKAGE)}:{node.lineno} {name}" for name in names
                  if name == "airflow" or name.startswith("airflow.")]
    return found


def test_no_file_of_the_domain_library_imports_airflow():
    files = sorted(PACKAGE.rglob("*.py"))
    assert files
    assert [hit for path in files for hit in airflow_imports(path)] == []


def test_importing_every_module_of_the_domain_library_loads_no_airflow_module():
    done = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    assert "findining_mlops.platform.aws.clients" in result["imported"]
    assert result["airflow"] == []


def test_the_aws_platform_is_built_from_a_boto3_session_without_airflow():
    """Building the aws platform and a client through it loads no Airflow module either:
    the adapters take a boto3 session (the CLI's standard AWS chain), not a hook."""
    program = """
import json, sys
import boto3
from findining_mlops.platform import get_platform
from findining_mlops.config.settings import Settings

platform = get_platform(Settings.from_env({
    "FINDINING_BACKEND": "aws", "FINDINING_AWS_REGION": "eu-west-1", "FINDINING_BUCKET": "findining-test",
    "FINDINING_TRAINING_ROLE_ARN": "arn:aws:iam::123456789012:role/training",
    "FINDINING_SERVING_ROLE_ARN": "arn:aws:iam::123456789012:role/serving",
    "FINDINING_VPC_SUBNET_IDS": "subnet-0a1b2c3d", "FINDINING_VPC_SECURITY_GROUP_IDS": "sg-0a1b2c3d",
    "FINDINING_KMS_KEY_ARN": "arn:aws:kms:eu-west-1:123456789012:key/1",
    "FINDINING_ALERTS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts"}))
client = platform.store.clients.s3
print(json.dumps({"region": client.meta.region_name, "retries": client.meta.config.retries,
                  "airflow": sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))}))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, env=env)
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {"region": "eu-west-1", "retries": {"mode": "standard", "total_max_attempts": 10}, "airflow": []}
