"""What a model package is to the pipeline: the modules it provides, and the SageMaker
training contract that its ``train.py`` honours.

A model is a Python package named by ``package`` in ``models.toml``. The pipeline reaches
its code only through ``ModelSpec.code`` (a ``ModelPackage``), which imports each module on
first use, so reading the catalog (DAG files do, at parse time) imports no scikit-learn.
Each module's Protocol below names what the pipeline calls in it.

SageMaker (and the local backend) runs ``train.py`` with ``SM_MODEL_DIR``,
``SM_CHANNEL_<NAME>``, ``SM_OUTPUT_DATA_DIR`` and ``SM_HPS`` set, and each hyperparameter
as a ``--name value`` argument. Whatever lands in the model directory is packed into
``model.tar.gz``. pandas and joblib are imported by the functions that need them, for the
same reason as above.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar, cast, runtime_checkable

from findining_mlops.errors import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

    from findining_mlops.data.capture import CapturedInference
    from findining_mlops.data.synthetic import World

MODEL_FILE = "model.joblib"
EVALUATION_FILE = "evaluation.json"
REFERENCE_FILE = "reference.parquet"
METADATA_FILE = "metadata.json"
CHANNELS = ("train", "validation", "test")

log = logging.getLogger("findining.training")
ModuleT = TypeVar("ModuleT")


# -- what every model package provides ----------------------------------------------------


class AppRequest(NamedTuple):
    """One request the app sent a model: the id its ground truth joins on, when, and the body."""

    inference_id: str
    time: pd.Timestamp
    body: dict


@runtime_checkable
class TrainingModule(Protocol):
    """``train.py``: the script-mode entry point, and the evaluation that a check of any
    artifact of the model (an upload, a champion) runs on a holdout."""

    HYPERPARAMETERS: dict[str, Any]

    def train(self, hps: dict) -> None: ...

    def evaluate(self, model: Any, frame: pd.DataFrame) -> dict: ...


@runtime_checkable
class InferenceModule(Protocol):
    """``inference.py``: the SageMaker scikit-learn serving handlers."""

    def model_fn(self, model_dir: str) -> Any: ...

    def input_fn(self, request_body: bytes | str, request_content_type: str) -> Any: ...

    def predict_fn(self, data: Any, model: Any) -> Any: ...

    def output_fn(self, prediction: Any, accept: str) -> bytes | str: ...


@runtime_checkable
class MonitoringModule(Protocol):
    """``monitoring.py``: captured inferences as feature rows, the columns drift compares,
    and the performance of served predictions against the day's ground truth."""

    DRIFT_NUMERICAL: list[str]
    DRIFT_CATEGORICAL: list[str]

    def capture_fields(self, record: CapturedInference) -> list[dict]: ...

    def capture_features(self, rows: pd.DataFrame) -> pd.DataFrame: ...

    def performance(self, captured: pd.DataFrame, truth: pd.DataFrame) -> dict: ...


@runtime_checkable
class OutcomesModule(Protocol):
    """``outcomes.py`` (models with A/B metrics): a served response and what the user did
    afterwards (the request's ground-truth rows) as A/B metric values."""

    def outcomes(self, truth: pd.DataFrame, response: dict) -> dict[str, float]: ...


@runtime_checkable
class RequestsModule(Protocol):
    """``requests.py``: the requests the app sends the model, built from rows of its
    dataset, and what a sound answer to one looks like (an upload's smoke test)."""

    def app_requests(self, rows: pd.DataFrame) -> list[AppRequest]: ...

    def synthetic_rows(self, world: World, day: date, count: int) -> pd.DataFrame: ...

    def check_response(self, body: dict, response: object) -> str | None: ...


class _Module(Generic[ModuleT]):
    """A module of the model's package, named after the attribute that holds this and
    imported when first read; ``ModuleT`` is the Protocol of what the pipeline calls in it."""

    def __init__(self) -> None:
        self.part = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.part = name

    def __get__(self, package: ModelPackage, owner: type | None = None) -> ModuleT:
        return cast(ModuleT, package.import_module(self.part))


@dataclass(frozen=True)
class ModelPackage:
    """A model's package (``name``, dotted): what the pipeline calls in it, module by module."""

    name: str
    train = _Module[TrainingModule]()
    inference = _Module[InferenceModule]()
    monitoring = _Module[MonitoringModule]()
    outcomes = _Module[OutcomesModule]()
    requests = _Module[RequestsModule]()

    @property
    def training_module(self) -> str:
        """The script-mode entry point (``python -m`` locally, ``sagemaker_program`` on AWS)."""
        return f"{self.name}.train"

    @property
    def inference_module(self) -> str:
        """The serving program: a module name, because a model server worker and a SageMaker
        container are other processes."""
        return f"{self.name}.inference"

    def import_module(self, part: str) -> object:
        """The package's ``part`` module. ConfigurationError when the package or the module
        does not exist; an import error inside the model's code is its own."""
        name = f"{self.name}.{part}"
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not (name == exc.name or name.startswith(f"{exc.name}.")):
                raise
            raise ConfigurationError(f"model package {self.name} has no {part} module ({name}): every model "
                                     f"package provides what findining_mlops.models.contract names") from exc


# -- the SageMaker training contract ------------------------------------------------------


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
    import pandas as pd

    folder = channel_dir(name)
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise RuntimeError(f"channel {name!r} ({folder}) holds no parquet files")
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def write_model(model: object, evaluation: dict, reference: pd.DataFrame, metadata: dict) -> Path:
    import joblib

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
    import joblib

    return joblib.load(Path(model_dir) / MODEL_FILE)


def reference_sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows of ``frame``, drawn with ``seed``: what a reference profile describes."""
    return frame.sample(n=min(rows, len(frame)), random_state=seed) if len(frame) > rows else frame


def run_training(hps: dict, *, fit: Callable[[pd.DataFrame, pd.DataFrame, dict], Any],
                 evaluate: Callable[[Any, pd.DataFrame], dict], profile: Callable[[Any, pd.DataFrame], pd.DataFrame],
                 metadata: dict, baselines: Callable[[pd.DataFrame, pd.DataFrame], dict] | None = None) -> Path:
    """The training job of every model: fit on the train and validation channels, evaluate on
    the test channel (plus ``baselines(train, test)``: naive figures the model must beat),
    profile a sample of the training rows (``reference_rows``, ``seed``) as the drift
    reference, and write all of it with ``metadata`` and the hyperparameters."""
    train, validation, test = (read_channel(channel) for channel in CHANNELS)
    log.info("training on %d rows, validating on %d, testing on %d", len(train), len(validation), len(test))
    model = fit(train, validation, hps)
    evaluation = evaluate(model, test)
    if baselines is not None:
        evaluation.update(baselines(train, test))
    log.info("evaluation: %s", evaluation)
    reference = profile(model, reference_sample(train, int(hps["reference_rows"]), int(hps["seed"])))
    return write_model(model, evaluation, reference, {**metadata, "hyperparameters": hps})


def run_entry_point(train: Callable[[dict], None], defaults: dict) -> None:
    """Runs ``train(hyperparameters)``; a failure exits non-zero with the error on stderr,
    which SageMaker and the local runner turn into the job's failure reason."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    hps = parse_hyperparameters(defaults)
    log.info("hyperparameters: %s", json.dumps(hps, sort_keys=True))
    train(hps)
