"""The guard rails of ``make lint`` hold on the tree and catch what they are for.

Each import contract (pyproject.toml, ``[tool.importlinter]``) is broken once on a copy of the
packages by one added import, and names that import; mypy refuses an adapter that leaves its
port; the size checker (``devtools.code_limits``) refuses a function one step over a limit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from devtools import code_limits

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PACKAGES = {"include/findining_mlops": "include", "plugins/findining_airflow": "plugins", "devtools": "."}


def run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "250", **env})
    done.stdout = re.sub(r"\s+", " ", done.stdout)  # rich wraps long chains
    return done


def lint_imports(cwd: Path, *options: str, **env: str) -> subprocess.CompletedProcess:
    return run([str(BIN / "lint-imports"), "--config", str(REPO / "pyproject.toml"), "--no-cache", "--no-logo",
                *options], cwd, **env)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The three root packages, copied; imported from the copy through PYTHONPATH."""
    for package, folder in PACKAGES.items():
        shutil.copytree(REPO / package, tmp_path / folder / Path(package).name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_tree_keeps_every_import_contract():
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout
    assert " 0 broken" in done.stdout


# contract id -> (its name, where the import goes, the import, the chain the report shows)
CONTRACT_BREAKS = {
    "domain-adapters": ("The domain does not import the platform adapters", "include/findining_mlops/training",
                        "import findining_mlops.platform.local",
                        "findining_mlops.training -> findining_mlops.platform.local"),
    "platform-below-domain": ("The platform does not import the pipeline's concerns",
                              "include/findining_mlops/platform/ports.py", "import findining_mlops.monitoring",
                              "findining_mlops.platform.ports -> findining_mlops.monitoring"),
    "no-devtools": ("The product does not import the dev tools", "plugins/findining_airflow",
                    "import devtools.traffic", "findining_airflow -> devtools.traffic"),
    "no-airflow-in-domain": ("Airflow only in dags/ and plugins/", "include/findining_mlops/models",
                             "import airflow", "findining_mlops.models -> airflow"),
    "plugin-above-domain": ("The domain does not import the Airflow plugin", "include/findining_mlops/store",
                            "import findining_airflow", "findining_mlops.store -> findining_airflow"),
}


@pytest.mark.parametrize("contract", sorted(CONTRACT_BREAKS))
def test_one_forbidden_import_breaks_its_contract(copy, contract):
    name, module, line, chain = CONTRACT_BREAKS[contract]
    target = copy / module
    target = target / "__init__.py" if target.is_dir() else target
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # the violation under test\n")
    done = lint_imports(copy, "--contract", contract,
                        PYTHONPATH=os.pathsep.join(str(copy / folder) for folder in PACKAGES.values()))
    assert done.returncode != 0, done.stdout
    assert f"{name} BROKEN" in done.stdout
    assert chain in done.stdout


def test_every_contract_is_broken_once_here():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert sorted(c["id"] for c in config["tool"]["importlinter"]["contracts"]) == sorted(CONTRACT_BREAKS)


def test_both_adapters_match_the_port_protocols():
    done = run([str(BIN / "mypy")], REPO)
    assert done.returncode == 0, done.stdout
    assert "Success: no issues found" in done.stdout


ADAPTERS_THAT_LEAVE_THEIR_PORT = {
    "missing-method": ("""
        class HalfStore:
            def uri(self, key: str) -> str:
                return key
        """, 'store=HalfStore()', 'expected "ArtifactStore"'),
    "other-signature": ("""
        from datetime import datetime

        class StringlyMetrics:
            def put(self, namespace: str, data: list[MetricDatum]) -> None: ...
            def query(self, namespace: str, name: str, dimensions: str, start: datetime,
                      end: datetime) -> list[MetricDatum]:
                return []
        """, 'metrics=StringlyMetrics()', 'expected "Metrics"'),
}


@pytest.mark.parametrize("case", sorted(ADAPTERS_THAT_LEAVE_THEIR_PORT))
def test_an_adapter_that_leaves_its_port_fails_the_type_check(tmp_path, case):
    adapter, member, error = ADAPTERS_THAT_LEAVE_THEIR_PORT[case]
    module = tmp_path / "wrong_adapter.py"
    module.write_text("from dataclasses import replace\nfrom pathlib import Path\n\n"
                      "from findining_mlops.platform.local import local_platform\n"
                      "from findining_mlops.platform.ports import MetricDatum, Platform\n"
                      + textwrap.dedent(adapter)
                      + "\n\ndef platform(home: Path) -> Platform:\n"
                      + f"    return replace(local_platform(home), {member})\n")
    done = run([str(BIN / "mypy"), str(module)], REPO)
    assert done.returncode == 1, done.stdout
    assert error in done.stdout


def test_the_tree_keeps_the_code_limits(capsys):
    assert code_limits.main([]) == 0, capsys.readouterr().out
    assert capsys.readouterr().out.startswith("code limits OK")


def branching(name: str, ifs: int) -> str:
    body = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(ifs))
    return f"def {name}(x):\n{body}    return -1\n"


def lengthy(name: str, lines: int) -> str:
    return f"def {name}():\n" + "".join(f"    x{i} = {i}\n" for i in range(lines - 2)) + "    return 0\n"


def test_a_function_one_step_over_a_limit_fails_the_code_limits(tmp_path, capsys):
    module = tmp_path / "include" / "package" / "module.py"
    module.parent.mkdir(parents=True)
    parts = [branching("at_the_limit", 14), branching("tangled", 15), lengthy("long_enough", 60), lengthy("long", 61)]
    module.write_text("\n\n".join(parts))
    lines = module.read_text().splitlines()
    tangled, long = lines.index("def tangled(x):") + 1, lines.index("def long():") + 1
    assert code_limits.main(["--root", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"include/package/module.py:{tangled} tangled (complexity 16 > 15)",
        f"include/package/module.py:{long} long (lines 61 > 60)",
    ]


def test_a_long_module_and_a_flat_package_root_fail_the_code_limits(tmp_path, capsys):
    root = tmp_path / "include" / "findining_mlops"
    root.mkdir(parents=True)
    for name in ("__init__", "a", "b", "c", "d", "e", "f"):
        (root / f"{name}.py").write_text("")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "big.py").write_text("x = 0\n" * 401)
    assert code_limits.main(["--root", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "plugins/big.py:1 big (lines 401 > 400)",
        "include/findining_mlops:0 a, b, c, d, e, f (top-level modules 6 > 5)",
    ]
