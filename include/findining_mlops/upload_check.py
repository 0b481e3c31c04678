"""Loads a model someone uploaded, asks it one smoke request and evaluates it on a holdout —
in a child process (``findining_mlops.sandbox``), because loading a tarball runs the
pickled code inside it.

``python -m findining_mlops.upload_check <task.json>``, where the task names the model
directory, the model's inference and training modules, an optional smoke request, the
holdout parquet file and where to write the result: ``{"smoke_response": ..., "metrics":
{...}}``, or ``{"error": "..."}`` (exit code 1) when the model fails a step.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pandas as pd

from findining_mlops.handlers import load_handlers
from findining_mlops.models import contract


def check(task: dict) -> dict:
    model_dir = task["model_dir"]
    result = {}
    handlers = load_handlers(task["inference_module"])
    try:
        served = handlers.model_fn(model_dir)
    except Exception as exc:
        raise StepFailed(f"does not load with {task['inference_module']}.model_fn: {type(exc).__name__}: {exc}") from exc
    if task.get("smoke_request") is not None:
        try:
            data = handlers.input_fn(json.dumps(task["smoke_request"], ensure_ascii=False).encode(), "application/json")
            result["smoke_response"] = json.loads(handlers.output_fn(handlers.predict_fn(data, served),
                                                                     "application/json"))
        except Exception as exc:
            raise StepFailed(f"loads but fails a smoke request: {type(exc).__name__}: {exc}") from exc
    trainer = importlib.import_module(task["training_module"])
    try:
        # evaluated as model_retraining evaluates a training job's model
        result["metrics"] = trainer.evaluate(contract.load_model(model_dir), pd.read_parquet(task["holdout"]))
    except Exception as exc:
        raise StepFailed(f"fails its evaluation on the holdout: {type(exc).__name__}: {exc}") from exc
    return result


class StepFailed(Exception):
    """The model failed a step of the check: a verdict on the model, not an error of the check."""


def main() -> int:
    task = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    try:
        result, code = check(task), 0
    except StepFailed as exc:
        result, code = {"error": str(exc)}, 1
    Path(task["result"]).write_text(json.dumps(result, default=float), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
