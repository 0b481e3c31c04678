"""The check of a model artifact, as the process that runs the model's code sees it: unpack the
tarball, load it with the model's serving handlers, ask one smoke request, evaluate it on a
holdout. Loading a model runs the pickled code inside it, so this module only ever runs where
that code is contained: in a sandboxed child on the local backend (``platform.local.model_checks``),
in a SageMaker processing job with network isolation on AWS (``platform.aws.model_checks``).

``python -m findining_mlops.training.check <task.json>``; the task names the ``archive``, the
``model_dir`` to unpack it into, the model's ``package``, an optional ``smoke_request``, the
``holdout`` folder of parquet files and the ``result`` file to write: ``{"smoke_response": ...,
"metrics": {...}, "files": [...]}``, or ``{"error": "..."}`` (exit code 1) when the model fails
a step. The model's own code runs here, so it could forge that result: the check contains the
model; the quality gate judges honest models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NotRequired, TypedDict

from findining_mlops.models.archive import unpack_refusal
from findining_mlops.models.contract import ModelPackage, load_model

# loading, one request and a holdout evaluation take seconds; a model still busy after this never serves
MODEL_CHECK_TIME_LIMIT_S = 300.0


class CheckResult(TypedDict):
    """What the check writes when the model passes every step (read back from JSON)."""

    smoke_response: NotRequired[object]  # only when the task asks a smoke request
    metrics: dict  # the model's own evaluation on the holdout
    files: list[str]  # the unpacked artifact's files, relative to its root


def check_name(model_name: str, role: str, *identity: str) -> str:
    """A check's name (a SageMaker job name): the same artifact and holdout give the same name,
    so a retried task attaches to its check instead of running a second one."""
    import hashlib

    digest = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
    return f"findining-check-{model_name}-{role}-{digest}"  # training jobs' prefix: the role may start both


class StepFailed(Exception):
    """The model failed a step of the check: a verdict on the model, not an error of the check."""


def run_check(task: dict) -> CheckResult:
    package = ModelPackage(task["package"])
    model_dir = _unpack(Path(task["archive"]), Path(task["model_dir"]))
    files = sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file())
    result: CheckResult = {"metrics": {}, "files": files}
    if task.get("smoke_request") is not None:
        result["smoke_response"] = _smoke_response(package, str(model_dir), task["smoke_request"])
    result["metrics"] = _holdout_metrics(package, str(model_dir), task["holdout"])
    return result


def _unpack(archive: Path, model_dir: Path) -> Path:
    refusal = unpack_refusal(archive, model_dir)
    if refusal:
        raise StepFailed(refusal)
    return model_dir


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
