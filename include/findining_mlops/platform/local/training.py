"""Training jobs as subprocesses that honour SageMaker's training contract.

A job is a folder ``<home>/training-jobs/<name>/`` laid out like ``/opt/ml`` in a
SageMaker container. The job's name is its identity: starting a name that exists returns
that job, so a retried Airflow task re-attaches instead of training twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import psutil

from findining_mlops.platform.local.store import LocalArtifactStore
from findining_mlops.platform.ports import FAILED, IN_PROGRESS, TrainingJob, TrainingJobSpec
from findining_mlops.platform.sandbox import child_environment


class LocalTrainingJobs:
    def __init__(self, root: Path, store: LocalArtifactStore):
        self.root = Path(root)
        self.store = store
        # the runners this process started, held so a finished one is reaped, not reported as still running
        self._runners: dict[str, subprocess.Popen] = {}

    def job_dir(self, name: str) -> Path:
        return self.root / name

    def start(self, spec: TrainingJobSpec) -> TrainingJob:
        job_dir = self.job_dir(spec.name)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            job_dir.mkdir()  # atomic claim of the name
        except FileExistsError:
            existing = self.describe(spec.name)
            if existing is not None:
                return existing
            # claimed by a starter that has not written its status yet: that starter runs it
            return TrainingJob(spec.name, IN_PROGRESS, None)
        (job_dir / "spec.json").write_text(json.dumps(asdict(spec), indent=2))
        _write_status(job_dir, {"status": IN_PROGRESS, "pid": None})
        with (job_dir / "runner.log").open("ab") as log:
            # from here on only the runner writes the status (its pid first, its result last)
            self._runners[spec.name] = subprocess.Popen(
                [sys.executable, "-m", "findining_mlops.platform.local.training_runner", str(job_dir),
                 str(self.store.root)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(job_dir),  # the runner needs only its arguments, like the job
                start_new_session=True,  # outlives a killed Airflow worker, like a SageMaker job
            )
        return self.describe(spec.name) or TrainingJob(spec.name, IN_PROGRESS, None)

    def describe(self, name: str) -> TrainingJob | None:
        job_dir = self.job_dir(name)
        status_file = job_dir / "status.json"
        if not status_file.exists():
            return None
        status = json.loads(status_file.read_text())
        if status["status"] == IN_PROGRESS and status.get("pid") and not _alive(status["pid"]):
            # re-read: the runner may have finished between the two reads
            status = json.loads(status_file.read_text())
            if status["status"] == IN_PROGRESS:
                status = {**status, "status": FAILED, "failure_reason": "the training process exited without a result"}
                _write_status(job_dir, status)
        return TrainingJob(
            name=name,
            status=status["status"],
            model_artifact_key=status.get("model_artifact_key"),
            failure_reason=status.get("failure_reason"),
            metrics=status.get("metrics", {}),
            log_uri=(job_dir / "logs.txt").resolve().as_uri(),
        )

    def logs(self, name: str) -> str:
        path = self.job_dir(name) / "logs.txt"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _write_status(job_dir: Path, status: dict) -> None:
    tmp = job_dir / ".status.json.tmp"
    tmp.write_text(json.dumps(status, indent=2))
    os.replace(tmp, job_dir / "status.json")
