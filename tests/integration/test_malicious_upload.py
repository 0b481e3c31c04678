"""The attack of issue 29, through the real DAGs on the local backend: a copy of the live
sentiment model whose pickle runs the attacker's code before returning the real model — so it
passes the quality gate with the champion's own metrics — is uploaded, checked and registered by
``model_artifact_watch`` and deployed as a canary by ``model_deployment``. Its code runs only in
the sandbox: never in a task process, never as the worker's user, never with the worker's
secrets, never able to reach the network or write the store."""

from __future__ import annotations

import json
import os
import pwd
import socket
from datetime import date, timedelta

import pytest
from simulation import SENTIMENT, bootstrap, load_dag, tarball
from upload_fixtures import RunsOnLoad, joblib_bytes

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.models import contract
from findining_mlops.platform.sandbox import SANDBOX_USER

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's own user needs root")]
START = date(2026, 10, 1)
SECRET = "worker-secret-7d1e"
UPLOAD = "models/sentiment/9.9.9/model.tar.gz"


def attacker_code(evidence, task_pid: int, store_root, port: int) -> str:
    """What the pickle runs on load: it records where it runs and what it can reach."""
    return f"""
import json, os, socket
seen = {{"pid": os.getpid(), "uid": os.getuid(), "secret_in_env": {SECRET!r} in json.dumps(dict(os.environ))}}
try:
    seen["task_environ"] = {SECRET!r} in open("/proc/{task_pid}/environ", "rb").read().decode("latin-1")
except OSError as exc:
    seen["task_environ"] = type(exc).__name__
try:
    open({str(store_root / "owned.txt")!r}, "w").write("owned")
    seen["store_write"] = "written"
except OSError as exc:
    seen["store_write"] = type(exc).__name__
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    seen["network"] = "connected"
except OSError as exc:
    seen["network"] = type(exc).__name__
open({str(evidence)!r}, "a").write(json.dumps(seen) + "\\n")
"""


def trojan_of(model_bytes: bytes, code: str) -> bytes:
    """A model.joblib that runs ``code`` and then is the real model (``model_bytes``)."""
    expression = (f"(exec({code!r}), __import__('joblib').load(__import__('io').BytesIO({model_bytes!r})))[1]")
    return joblib_bytes(RunsOnLoad(eval, expression))


@pytest.fixture
def listener():
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_a_trojan_upload_runs_only_in_the_sandbox_through_watch_and_canary(
        airflow_db, deployments, use_catalog, platform, trained_jobs, sandbox_writable, listener, monkeypatch):
    use_catalog(sentiment={**SENTIMENT, "training_window_days": 6, "holdout_days": 1, "max_regression": 0.05})
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    generate(platform.store, START, 8, seed=4, requests_per_day=10, reviews_per_day=150)
    live = bootstrap(platform, get_model("sentiment"), START + timedelta(days=5), "job-v1", trained=trained_jobs)
    evidence = sandbox_writable / "evidence.jsonl"
    real = contract.MODEL_FILE
    files = dict(_members(platform.store.read_bytes(live.artifact_key)))
    files[real] = trojan_of(files[real], attacker_code(evidence, os.getpid(), platform.store.root, listener))
    platform.store.write_bytes(UPLOAD, tarball(files))

    assert load_dag("model_artifact_watch").test().state == "success"
    uploaded = platform.registry.list_versions("sentiment")[-1]
    assert (uploaded.label, uploaded.status) == ("9.9.9", "Approved")  # the champion's metrics pass the gate
    checked = _records(evidence)
    assert checked, "the upload's check never loaded the model"

    # the canary's first step; no traffic bakes it here, so its bake times out and the champion is restored
    deployment = load_dag("model_deployment")
    deployment.get_task("bake").poke_interval = deployment.get_task("bake").timeout = 1
    run = deployment.test(run_conf={"model_name": "sentiment", "version": uploaded.version, "canary_percent": 10})
    assert run.get_task_instance("start").state == "success"  # its model server loaded the trojan
    records = _records(evidence)
    assert len(records) > len(checked)

    sandbox_uid = pwd.getpwnam(SANDBOX_USER).pw_uid
    assert {r["uid"] for r in records} == {sandbox_uid}
    assert os.getpid() not in {r["pid"] for r in records}  # never in the task process (dag.test runs tasks here)
    assert not any(r["secret_in_env"] for r in records)
    assert {r["task_environ"] for r in records} == {"PermissionError"}
    assert {r["store_write"] for r in records} == {"PermissionError"}
    assert {r["network"] for r in records} <= {"OSError", "ConnectionRefusedError"}
    assert not (platform.store.root / "owned.txt").exists()


def _members(archive: bytes):
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                yield member.name, tar.extractfile(member).read()


def _records(evidence) -> list[dict]:
    return [json.loads(line) for line in evidence.read_text().splitlines()] if evidence.exists() else []
