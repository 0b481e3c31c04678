"""Loads a model's SageMaker scikit-learn serving handlers from its inference module, and
wraps them with injected faults for rollback drills — only in a process started as a drill.

The inference module is named, not passed: a model server worker and a SageMaker container
are other processes, which receive the module's name (``ModelSpec.inference_module``) as
SageMaker receives its serving program."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
import logging
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from findining_mlops.errors import ConfigurationError, DataValidationError

log = logging.getLogger(__name__)
HANDLER_NAMES = ("model_fn", "input_fn", "predict_fn", "output_fn")
FAULT_FILE = "fault-injection.json"
# set to "1" in the environment of an endpoint started as a rollback drill, and nowhere else
FAULT_DRILL_ENV = "FINDINING_FAULT_DRILL"
PREDICTION_SHIFTS = ("constant",)


@dataclass(frozen=True)
class ServingHandlers:
    model_fn: Callable[[str], Any]
    input_fn: Callable[[bytes | str, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], bytes | str]


def load_handlers(module_name: str) -> ServingHandlers:
    """The handlers of the named inference module; ConfigurationError naming any it lacks."""
    module = importlib.import_module(module_name)
    missing = [name for name in HANDLER_NAMES if not callable(getattr(module, name, None))]
    if missing:
        raise ConfigurationError(f"inference module {module_name} lacks the serving handler(s) {', '.join(missing)}")
    return ServingHandlers(*(getattr(module, name) for name in HANDLER_NAMES))


# -- fault injection ---------------------------------------------------------------------
# Rollback drills and demos need a challenger that really misbehaves: a model archive that
# holds fault-injection.json, e.g. {"error_rate": 0.2, "added_latency_ms": 6000,
# "prediction_shift": "constant"}, is served with those faults — by a serving process
# whose environment has FINDINING_FAULT_DRILL=1 (see ``fault_drill``). Anywhere else
# (production) the file is ignored, so no artifact can make a production endpoint fail on
# purpose; without the file (every model the pipeline trains) the handlers are untouched.


def fault_drill_enabled() -> bool:
    return os.environ.get(FAULT_DRILL_ENV) == "1"


@contextmanager
def fault_drill() -> Iterator[None]:
    """Within the block, models this process loads honour their fault-injection.json:
    the flag a rollback drill sets around the endpoint it serves."""
    previous = os.environ.get(FAULT_DRILL_ENV)
    os.environ[FAULT_DRILL_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(FAULT_DRILL_ENV, None)
        else:
            os.environ[FAULT_DRILL_ENV] = previous


def with_fault_injection(handlers: ServingHandlers, model_dir: str) -> ServingHandlers:
    """The handlers, with ``predict_fn`` wrapped when ``model_dir`` holds fault-injection.json
    and this process serves a drill (``FINDINING_FAULT_DRILL=1``); outside a drill the file
    is ignored with a warning.

    Each key is optional: ``error_rate`` (share of requests that raise RuntimeError, chosen
    by a hash of the request's content so the same request always fails), ``added_latency_ms``
    (slept on every other request) and ``prediction_shift`` ("constant": recommendation
    scores become 1 - score, sentiment labels always "negative")."""
    path = Path(model_dir) / FAULT_FILE
    if not path.is_file():
        return handlers
    if not fault_drill_enabled():
        log.warning("%s is ignored: faults are injected only on an endpoint started as a rollback drill (%s=1)",
                    path, FAULT_DRILL_ENV)
        return handlers
    try:
        faults = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid JSON: {exc}") from exc
    try:
        check_faults(faults)
    except DataValidationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
    return dataclasses.replace(handlers, predict_fn=_faulty(handlers.predict_fn, faults))


def served_handlers(inference_module: str, model_dir: str) -> ServingHandlers:
    """The handlers a model server uses for the model in ``model_dir``: the inference module's, with the faults of
    a drill (``with_fault_injection``). A router checking that a model loads uses them too, so the check loads what
    its server will."""
    return with_fault_injection(load_handlers(inference_module), model_dir)


def check_faults(faults: dict) -> None:
    """Raises DataValidationError naming the first fault setting that is unknown or out of range."""
    if not isinstance(faults, dict):
        raise DataValidationError(f"faults must be a JSON object, got {type(faults).__name__}")
    unknown = sorted(set(faults) - {"error_rate", "added_latency_ms", "prediction_shift"})
    if unknown:
        raise DataValidationError(
            f"unknown fault setting(s) {unknown}; known: added_latency_ms, error_rate, prediction_shift")
    rate = faults.get("error_rate", 0.0)
    if not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise DataValidationError(f"error_rate {rate!r} is outside 0..1")
    latency = faults.get("added_latency_ms", 0.0)
    if not isinstance(latency, (int, float)) or latency < 0:
        raise DataValidationError(f"added_latency_ms {latency!r} is not a number >= 0")
    shift = faults.get("prediction_shift")
    if shift is not None and shift not in PREDICTION_SHIFTS:
        raise DataValidationError(f"prediction_shift {shift!r} is not one of {', '.join(PREDICTION_SHIFTS)}")


def _faulty(predict_fn: Callable[[Any, Any], Any], faults: dict) -> Callable[[Any, Any], Any]:
    error_rate = float(faults.get("error_rate", 0.0))
    added_latency_s = float(faults.get("added_latency_ms", 0.0)) / 1000.0
    shift = faults.get("prediction_shift")

    def predict(data, model):
        if _request_share(data) < error_rate:
            raise RuntimeError(f"fault injection: this request is in the failing share (error_rate {error_rate})")
        if added_latency_s:
            time.sleep(added_latency_s)
        prediction = predict_fn(data, model)
        return _shifted(prediction) if shift else prediction

    return predict


def _request_share(data: Any) -> float:
    """Where the request falls in [0, 1), from a hash of its content: stable across runs."""
    if isinstance(data, pd.DataFrame):
        text = data.to_json(orient="split")
    else:
        text = json.dumps(data, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def _shifted(prediction: dict) -> dict:
    """The "constant" shift, by the shape of the model's response (see each inference module)."""
    if "predictions" in prediction:  # a sentiment batch
        return {**prediction, "predictions": [_shifted(p) for p in prediction["predictions"]]}
    if "label" in prediction:  # sentiment: always negative
        return {"label": "negative", "scores": {label: float(label == "negative") for label in prediction["scores"]}}
    if "scores" in prediction and "ranking" in prediction:  # recommendation: reversed scores, so reversed ranking
        scores = [round(1.0 - s, 6) for s in prediction["scores"]]
        return {"scores": scores, "ranking": prediction["ranking"][::-1]}
    raise ConfigurationError(f"prediction_shift does not know how to shift a prediction with keys {sorted(prediction)}")


def inject_faults(archive_in: Path, archive_out: Path, faults: dict) -> None:
    """Copies a model.tar.gz into ``archive_out`` with fault-injection.json added (replacing
    any earlier one), so a real model can be deployed as a faulty challenger."""
    check_faults(faults)
    archive_out.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(faults, indent=2, sort_keys=True).encode()
    try:
        with tarfile.open(archive_in, "r:gz") as source, tarfile.open(archive_out, "w:gz") as target:
            for member in source.getmembers():
                if member.name.removeprefix("./") != FAULT_FILE:
                    target.addfile(member, source.extractfile(member) if member.isfile() else None)
            info = tarfile.TarInfo(FAULT_FILE)
            info.size = len(payload)
            target.addfile(info, io.BytesIO(payload))
    except (tarfile.TarError, OSError, EOFError) as exc:
        archive_out.unlink(missing_ok=True)
        raise DataValidationError(f"cannot add faults to {archive_in}: "
                                  f"it is not a readable model.tar.gz ({exc})") from exc
