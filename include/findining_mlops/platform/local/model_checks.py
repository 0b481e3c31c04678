"""Model checks on the embedded backend: ``python -m findining_mlops.training.check`` in the
sandbox (``platform.sandbox``), as its own user with no network, where a SageMaker processing
job would run it on AWS.

This process downloads the exact object version and the holdout into a folder the sandbox may
read; the check unpacks and loads the model in a folder only it may write, and what it writes
back is read as JSON, never unpickled, and never through a link it planted.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from findining_mlops.errors import ModelCheckFailed
from findining_mlops.platform.local.store import LocalArtifactStore
from findining_mlops.platform.ports import ModelCheckTask
from findining_mlops.platform.sandbox import TimeLimitExceeded, child_environment, run_child, sandbox_dir, workspace

MAX_RESULT_BYTES = 16 * 1024**2


class LocalModelChecks:
    def __init__(self, store: LocalArtifactStore):
        self.store = store

    def run(self, task: ModelCheckTask, time_limit_s: float) -> dict:
        inputs = workspace(f"{task.name}-")  # the sandbox reads its inputs here; it writes only in box/
        try:
            archive = self.store.download_file(task.artifact_key, inputs / "model.tar.gz",
                                               task.artifact_version_id or "")
            holdout = inputs / "holdout"
            holdout.mkdir()
            for key in self.store.list_keys(task.holdout_prefix.rstrip("/") + "/"):
                self.store.download_file(key, holdout / Path(key).name)
            box = sandbox_dir(inputs / "box")
            task_file = inputs / "task.json"
            task_file.write_text(json.dumps({
                "archive": str(archive), "model_dir": str(box / "model"), "package": task.package,
                "smoke_request": task.smoke_request, "holdout": str(holdout), "result": str(box / "result.json"),
            }, ensure_ascii=False), encoding="utf-8")
            command = [sys.executable, "-m", "findining_mlops.training.check", str(task_file)]
            try:
                done = run_child(command, env=child_environment(box), cwd=box, timeout_s=time_limit_s)
            except TimeLimitExceeded:
                raise ModelCheckFailed(
                    f"was stopped: unpacking, loading{', one smoke request' if task.smoke_request else ''} and the "
                    f"evaluation did not finish within the time limit of {time_limit_s:g} s") from None
            result = _read_result(box / "result.json")
        finally:
            shutil.rmtree(inputs, ignore_errors=True)
        if result is None:
            tail = "\n".join(done.stderr.splitlines()[-10:])
            raise ModelCheckFailed(f"crashed the check process (exit code {done.returncode}) without a result:\n{tail}")
        if "error" in result:
            raise ModelCheckFailed(str(result["error"]))
        return result


def _read_result(path: Path) -> dict | None:
    """The check's JSON result, or None when there is none to read: opened without following a
    link, so a check cannot make this process read one of its files for it, and size-capped."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_RESULT_BYTES + 1)
    try:
        result = json.loads(data) if len(data) <= MAX_RESULT_BYTES else None
    except ValueError:
        return None
    return result if isinstance(result, dict) else None
