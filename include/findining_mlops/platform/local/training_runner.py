"""Runs one local training job the way a SageMaker training container does.

``python -m findining_mlops.platform.local.training_runner <job dir> <store root>``:
copies each channel to ``input/data/<channel>`` of a workspace laid out like ``/opt/ml``, runs the entry point with the
``SM_*`` environment and hyperparameters as ``--name value`` arguments, packs
``model/`` into ``model.tar.gz`` and uploads it under the job's output key.

The entry point runs in the sandbox (``findining_mlops.platform.sandbox``): its own user, no
network, resource limits, and what a SageMaker container gives it — the ``SM_*`` variables,
its channels and hyperparameters — plus what starting Python needs; none of the worker's
credentials or Airflow connections. It may write only its model and output folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import NotRequired, TypedDict

from findining_mlops.platform.local.store import LocalArtifactStore
from findining_mlops.platform.local.training import _write_status
from findining_mlops.platform.ports import COMPLETED, FAILED, IN_PROGRESS
from findining_mlops.platform.sandbox import (
    TRAINING_LIMITS,
    child_environment,
    sandbox_dir,
    sandboxed,
    take_back,
    workspace,
)
from findining_mlops.store.layout import training_output_key

FAILURE_TAIL_LINES = 25


class RunResult(TypedDict):
    """How the job ended, as the runner writes it into the job's ``status.json`` for ``LocalTrainingJobs``."""

    status: str  # Completed / Failed
    failure_reason: NotRequired[str]
    model_artifact_key: NotRequired[str]
    metrics: NotRequired[dict]


def hyperparameter_args(hyperparameters: dict) -> list[str]:
    """SageMaker script mode passes each hyperparameter as ``--name value``."""
    args = []
    for name, value in sorted(hyperparameters.items()):
        args += [f"--{name}", json.dumps(value) if not isinstance(value, str) else value]
    return args


def run(job_dir: Path, store: LocalArtifactStore) -> RunResult:
    """The job, in a workspace under the sandbox root laid out like ``/opt/ml``; removed after."""
    container = workspace(f"training-{job_dir.name}-")
    try:
        return _run_in(container, job_dir, store)
    finally:
        shutil.rmtree(container, ignore_errors=True)


def _run_in(container: Path, job_dir: Path, store: LocalArtifactStore) -> RunResult:
    spec = json.loads((job_dir / "spec.json").read_text())
    channel_dirs = {}
    for channel, prefix in spec["channels"].items():
        target = container / "input" / "data" / channel
        target.mkdir(parents=True, exist_ok=True)
        for key in store.list_keys(prefix.rstrip("/") + "/"):
            store.download_file(key, target / Path(key).name)
        channel_dirs[f"SM_CHANNEL_{channel.upper()}"] = str(target)
    (container / "output").mkdir()
    model_dir, output_data = sandbox_dir(container / "model"), sandbox_dir(container / "output" / "data")
    env = child_environment(
        sandbox_dir(container / "home"), **channel_dirs,
        SM_MODEL_DIR=str(model_dir),
        SM_OUTPUT_DIR=str(container / "output"),
        SM_OUTPUT_DATA_DIR=str(output_data),
        SM_CHANNELS=json.dumps(sorted(spec["channels"])),
        SM_HPS=json.dumps(spec["hyperparameters"]),
        SM_TRAINING_JOB_NAME=spec["name"],
    )
    command = [sys.executable, "-m", spec["entry_point"], *hyperparameter_args(spec["hyperparameters"])]
    with (job_dir / "logs.txt").open("w", encoding="utf-8") as logs:
        logs.write(f"$ {' '.join(command)}\n")
        logs.flush()
        code = subprocess.call(sandboxed(command, env, TRAINING_LIMITS), cwd=container, env={}, stdout=logs,
                               stderr=subprocess.STDOUT)
    take_back(container)
    if code != 0:
        tail = (job_dir / "logs.txt").read_text(encoding="utf-8", errors="replace").splitlines()[-FAILURE_TAIL_LINES:]
        reason = f"AlgorithmError: the entry point {spec['entry_point']} exited with code {code}:\n" + "\n".join(tail)
        return {"status": FAILED, "failure_reason": reason}
    archive = container / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False)
    key = training_output_key(spec["output_prefix"], spec["name"])
    store.upload_file(archive, key)
    evaluation = model_dir / "evaluation.json"
    metrics = json.loads(evaluation.read_text()) if evaluation.exists() else {}
    return {"status": COMPLETED, "model_artifact_key": key, "metrics": metrics}


def main() -> None:
    job_dir, store_root = Path(sys.argv[1]), Path(sys.argv[2])
    _write_status(job_dir, {"status": IN_PROGRESS, "pid": os.getpid()})
    try:
        result: RunResult = run(job_dir, LocalArtifactStore(store_root))
    except Exception as exc:  # the runner must always leave a final status behind
        result = {"status": FAILED, "failure_reason": f"InternalServerError: {type(exc).__name__}: {exc}"}
    _write_status(job_dir, {"pid": os.getpid(), **result})


if __name__ == "__main__":
    main()
