"""Loads a model artifact, asks it a smoke request and evaluates it on a holdout — in a
child process (``findining_mlops.platform.sandbox``) with a time limit and none of the worker's
credentials, because loading a model runs the pickled code inside it. Uploads, retrained
challengers and their champions are all checked this way.

The child is ``python -m findining_mlops.training.check <task.json>``; the task names the
model directory, the model's package (its inference handlers and evaluation), an optional smoke request,
the holdout parquet file and where to write the result: ``{"smoke_response": ...,
"metrics": {...}}``, or ``{"error": "..."}`` (exit code 1) when the model fails a step.
The model's own code runs in the child, so it could forge that result: the check protects
the worker's credentials; the quality gate judges honest models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NotRequired, TypedDict

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.errors import FindiningError
from findining_mlops.models.contract import ModelPackage, load_model
from findining_mlops.platform.sandbox import TimeLimitExceeded, child_environment, run_child

# loading, one request and a holdout evaluation take seconds; a model still busy after this never serves
MODEL_CHECK_TIME_LIMIT_S = 300.0


class CheckResult(TypedDict):
    """What the child writes when the model passes every step (read back from JSON)."""

    smoke_response: NotRequired[object]  # only when the task asks a smoke request
    metrics: dict  # the model's own evaluation on the holdout


class ModelCheckFailed(FindiningError):
    """A model failed its check; the message says how (a verdict on the model)."""


def check_model(spec: ModelSpec, model_dir: Path, holdout: Path, workdir: Path, *,
                time_limit_s: float = MODEL_CHECK_TIME_LIMIT_S, smoke_request: dict | None = None) -> CheckResult:
    """The child's result for the unpacked model in ``model_dir``, or ModelCheckFailed."""
    task_path, result_path = workdir / f"{model_dir.name}-task.json", workdir / f"{model_dir.name}-result.json"
    task_path.write_text(json.dumps({
        "model_dir": str(model_dir), "package": spec.package, "smoke_request": smoke_request,
        "holdout": str(holdout), "result": str(result_path),
    }, ensure_ascii=False), encoding="utf-8")
    command = [sys.executable, "-m", "findining_mlops.training.check", str(task_path)]
    try:
        done = run_child(command, env=child_environment(workdir), cwd=workdir, timeout_s=time_limit_s)
    except TimeLimitExceeded:
        raise ModelCheckFailed(f"was stopped: loading{', one smoke request' if smoke_request else ''} and the "
                               f"evaluation did not finish within the time limit of {time_limit_s:g} s") from None
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        tail = "\n".join(done.stderr.splitlines()[-10:])
        raise ModelCheckFailed(f"crashed the check process (exit code {done.returncode}) "
                               f"without a result:\n{tail}") from None
    if "error" in result:
        raise ModelCheckFailed(result["error"])
    return result


# -- the child ---------------------------------------------------------------------------


class StepFailed(Exception):
    """The model failed a step of the check: a verdict on the model, not an error of the check."""


def run_check(task: dict) -> CheckResult:
    package = ModelPackage(task["package"])
    if task.get("smoke_request") is None:
        return {"metrics": _holdout_metrics(package, task["model_dir"], task["holdout"])}
    response = _smoke_response(package, task["model_dir"], task["smoke_request"])
    return {"smoke_response": response, "metrics": _holdout_metrics(package, task["model_dir"], task["holdout"])}


def _smoke_response(package: ModelPackage, model_dir: str, request: dict) -> object:
    """The model's answer to ``request``, through its serving handlers as an endpoint would ask."""
    from findining_mlops.serving.server.handlers import load_handlers

    handlers = load_handlers(package.inference_module)
    try:
        served = handlers.model_fn(model_dir)
    except Exception as exc:
        raise StepFailed(f"does not load with {package.inference_module}.model_fn: "
                         f"{type(exc).__name__}: {exc}") from exc
    try:
        data = handlers.input_fn(json.dumps(request, ensure_ascii=False).encode(), "application/json")
        return json.loads(handlers.output_fn(handlers.predict_fn(data, served), "application/json"))
    except Exception as exc:
        raise StepFailed(f"loads but fails a smoke request: {type(exc).__name__}: {exc}") from exc


def _holdout_metrics(package: ModelPackage, model_dir: str, holdout: str) -> dict:
    """The model's own evaluation of the model as the training contract loads it."""
    import pandas as pd

    evaluate = package.train.evaluate
    try:
        model = load_model(model_dir)
    except Exception as exc:
        raise StepFailed(f"does not load with the training contract: {type(exc).__name__}: {exc}") from exc
    try:
        return evaluate(model, pd.read_parquet(holdout))
    except Exception as exc:
        raise StepFailed(f"fails its evaluation on the holdout: {type(exc).__name__}: {exc}") from exc


def main() -> int:
    task = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    try:
        result, code = run_check(task), 0
    except StepFailed as exc:
        result, code = {"error": str(exc)}, 1
    Path(task["result"]).write_text(json.dumps(result, default=float), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
