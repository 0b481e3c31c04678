"""The SageMaker training contract, shared by every model's entry point.

SageMaker (and the local backend) runs ``train.py`` with ``SM_MODEL_DIR``,
``SM_CHANNEL_<NAME>``, ``SM_OUTPUT_DATA_DIR`` and ``SM_HPS`` set, and each
hyperparameter as a ``--name value`` argument. Whatever lands in the model directory is
packed into ``model.tar.gz``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import joblib
import pandas as pd

MODEL_FILE = "model.joblib"
EVALUATION_FILE = "evaluation.json"
REFERENCE_FILE = "reference.parquet"
METADATA_FILE = "metadata.json"

log = logging.getLogger("findining.training")


def parse_hyperparameters(defaults: dict, argv: list[str] | None = None) -> dict:
    """Hyperparameters from ``--name value`` arguments, typed by their defaults."""
    parser = argparse.ArgumentParser(description="SageMaker script-mode training entry point")
    for name, default in defaults.items():
        parser.add_argument(f"--{name}", type=_flag if isinstance(default, bool) else type(default), default=default)
    return vars(parser.parse_args(argv))


def _flag(text: str) -> bool:
    """SageMaker sends booleans as JSON text: ``true`` / ``false``."""
    if text.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (true/false)")
    return text.lower() in ("true", "1")


def channel_dir(name: str) -> Path:
    variable = f"SM_CHANNEL_{name.upper()}"
    if variable not in os.environ:
        raise RuntimeError(f"{variable} is not set: the training job has no {name!r} channel")
    return Path(os.environ[variable])


def read_channel(name: str) -> pd.DataFrame:
    folder = channel_dir(name)
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise RuntimeError(f"channel {name!r} ({folder}) holds no parquet files")
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def write_model(model: object, evaluation: dict, reference: pd.DataFrame, metadata: dict) -> Path:
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    (model_dir / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=2, sort_keys=True))
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True))
    reference.to_parquet(model_dir / REFERENCE_FILE, index=False)
    output_data = os.environ.get("SM_OUTPUT_DATA_DIR")
    if output_data:
        Path(output_data).mkdir(parents=True, exist_ok=True)
        (Path(output_data) / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=2, sort_keys=True))
    # SageMaker metric definitions scrape lines like this from the job's log
    for name, value in sorted(evaluation.items()):
        if isinstance(value, (int, float)):
            print(f"metric {name}={value:.6f}", flush=True)
    return model_dir


def load_model(model_dir: str | Path) -> object:
    return joblib.load(Path(model_dir) / MODEL_FILE)


def text_input(request_body, request_content_type: str, model_name: str) -> dict:
    """``input_fn`` of the text models: ``{"text": ...}`` or ``{"instances": [{"text": ...}, ...]}``
    as ``{"texts": [...], "batch": bool}``, so a batch answers as a batch."""
    if "json" not in request_content_type:
        raise ValueError(f"unsupported content type {request_content_type!r}; send application/json")
    payload = json.loads(request_body)
    if "instances" in payload:
        return {"texts": [str(item["text"]) for item in payload["instances"]], "batch": True}
    if "text" not in payload:
        raise ValueError(f"{model_name} request needs 'text' (or 'instances': [{{'text': ...}}])")
    return {"texts": [str(payload["text"])], "batch": False}


def run_entry_point(train: Callable[[dict], None], defaults: dict) -> None:
    """Runs ``train(hyperparameters)``; a failure exits non-zero with the error on stderr,
    which SageMaker and the local runner turn into the job's failure reason."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    hps = parse_hyperparameters(defaults)
    log.info("hyperparameters: %s", json.dumps(hps, sort_keys=True))
    train(hps)


def extract_artifact(archive: Path, target: Path) -> Path:
    """Unpacks a model.tar.gz; the ``data`` filter refuses members that would land outside
    ``target``. Nothing is loaded: that runs the pickled code inside."""
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(target, filter="data")
    return target
