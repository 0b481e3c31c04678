"""DAG integrity over the whole DagBag: imports, ownership, docs, retries, alerts, parse cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
HEAVY = ("pandas", "numpy", "sklearn", "evidently", "boto3", "botocore", "scipy", "pyarrow")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "the DagBag is empty"


def test_every_dag_is_documented_owned_tagged_and_alerting(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 100, f"{dag_id} has no doc_md"
        assert dag.on_failure_callback, f"{dag_id} has no on_failure_callback"
        assert dag.on_success_callback, f"{dag_id} has no on_success_callback (announced where configured)"
        assert dag.start_date is not None and dag.start_date.year >= 2026, f"{dag_id} needs a static start_date"
        for task in dag.tasks:
            assert task.owner not in (None, "", "airflow"), f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 2, f"{dag_id}.{task.task_id} has retries={task.retries}"


def test_parsing_dags_imports_no_heavy_library():
    """Checked in a fresh interpreter: what the scheduler's DAG processor pays per parse."""
    script = (
        "import json, sys, runpy, pathlib\n"
        f"before = set(sys.modules)\n"
        f"for path in sorted(pathlib.Path({str(DAGS)!r}).glob('*.py')):\n"
        "    runpy.run_path(str(path))\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in set(sys.modules) - before}} & set({list(HEAVY)!r}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_no_backend_switch_in_dag_files():
    for path in DAGS.glob("*.py"):
        text = path.read_text()
        assert "backend ==" not in text and "FINDINING_BACKEND" not in text, f"{path.name} switches on the backend"
