"""The model catalog: which models exist and how each is trained, judged and served.

Read from ``models.toml`` (or ``FINDINING_MODELS_CONFIG``) with the standard library
only, because DAG files call it at parse time to build the ``model_name`` enum.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from findining_mlops.errors import ConfigurationError, UnknownModelError
from findining_mlops.models.contract import ModelPackage

RESOURCE_PREFIX = "ai-restaurant-recommendation"  # the names' prefix unless FINDINING_RESOURCE_PREFIX sets another
MAX_SAGEMAKER_NAME = 63  # endpoints and model package groups
DEFAULT_CATALOG = Path(__file__).with_name("models.toml")
# how the model is served and called (``[models.<name>].serving`` overrides any of them):
# model server worker processes per variant, the app client's per-call time-out and
# retries, how long a cached answer may be reused (0: never cached), and what the client
# answers when the endpoint cannot ("" : an error; "popularity": serving.fallback's ranking)
SERVING_DEFAULTS = {"workers": 1, "timeout_ms": 1000, "retries": 2, "cache_ttl_s": 0, "fallback": ""}


@dataclass(frozen=True)
class ModelSpec:
    """One model's configuration; every field has a meaning for the pipeline."""

    name: str
    package: str
    dataset: str
    primary_metric: str
    min_primary_metric: float
    max_regression: float
    training_window_days: int
    holdout_days: int
    validation_days: int
    description: str = ""
    hyperparameters: dict = field(default_factory=dict)
    monitoring: dict = field(default_factory=dict)  # overrides of monitoring.decision.MonitoringPolicy
    # how model_retraining hands an approved version to model_deployment (its Params)
    deployment: dict = field(default_factory=lambda: {"strategy": "canary", "canary_percent": 10,
                                                      "ramp": [10, 50, 100], "bake_minutes": 10.0})
    # what an A/B test of this model can measure: name -> {"kind": "binary"|"continuous", "direction"}
    ab_metrics: dict = field(default_factory=dict)
    # which part of the semantic version label a retrain raises: "major", "minor" or "patch"
    retrain_bump: str = "minor"
    serving: dict = field(default_factory=dict)  # see SERVING_DEFAULTS
    # figures of naive baselines that the model's evaluation reports and the summary shows beside the model's
    baseline_metrics: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.serving) - set(SERVING_DEFAULTS))
        if unknown:
            raise TypeError(f"unknown serving setting(s) {unknown}; known: {sorted(SERVING_DEFAULTS)}")
        object.__setattr__(self, "serving", {**SERVING_DEFAULTS, **self.serving})

    @property
    def code(self) -> ModelPackage:
        """The model's package: everything the pipeline calls in the model goes through it."""
        return ModelPackage(self.package)

    @property
    def training_module(self) -> str:
        """The script-mode entry point (``python -m`` locally, ``sagemaker_program`` on AWS)."""
        return self.code.training_module

    @property
    def inference_module(self) -> str:
        """The module holding ``model_fn``/``input_fn``/``predict_fn``/``output_fn``."""
        return self.code.inference_module

    @property
    def endpoint_name(self) -> str:
        """This environment's endpoint of the model (``FINDINING_RESOURCE_PREFIX``)."""
        return endpoint_name(self.name)

    @property
    def model_package_group(self) -> str:
        """This environment's model package group of the model (``FINDINING_RESOURCE_PREFIX``)."""
        return model_package_group(self.name)


def resource_prefix(env: Mapping[str, str] | None = None) -> str:
    """The prefix of every name the pipeline gives a resource: ``FINDINING_RESOURCE_PREFIX``
    (the Terraform output ``resource_prefix``, ``<project>-<environment>``), so dev, staging
    and production share an account without sharing an endpoint, package group or alarm.

    Read from the process environment, not from an Airflow Variable: names are resolved
    wherever a model is (DAG forms, the CLI, the serving client), with no settings at hand."""
    prefix = (os.environ if env is None else env).get("FINDINING_RESOURCE_PREFIX", "").strip() or RESOURCE_PREFIX
    if not re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", prefix) or "--" in prefix:
        raise ConfigurationError(f"FINDINING_RESOURCE_PREFIX={prefix!r} is not a name prefix: lowercase letters, "
                                 "digits and single hyphens, starting with a letter (e.g. "
                                 "ai-restaurant-recommendation-dev)")
    return prefix


def endpoint_name(model_name: str, prefix: str | None = None) -> str:
    """``<prefix>-<model>-endpoint``; ``prefix`` defaults to this environment's."""
    return _sagemaker_name(f"{prefix or resource_prefix()}-{model_name}-endpoint")


def model_package_group(model_name: str, prefix: str | None = None) -> str:
    """``<prefix>-<model>``; ``prefix`` defaults to this environment's."""
    return _sagemaker_name(f"{prefix or resource_prefix()}-{model_name}")


def _sagemaker_name(name: str) -> str:
    if len(name) > MAX_SAGEMAKER_NAME:
        raise ConfigurationError(f"{name} has {len(name)} characters, SageMaker allows {MAX_SAGEMAKER_NAME}: "
                                 "shorten FINDINING_RESOURCE_PREFIX (Terraform's project_prefix) or the model's name")
    return name


def catalog_path() -> Path:
    return Path(os.environ.get("FINDINING_MODELS_CONFIG", DEFAULT_CATALOG))


@lru_cache(maxsize=8)
def _load(path: Path) -> dict[str, ModelSpec]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"model catalog {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"model catalog {path} is not valid TOML: {exc}") from exc
    specs = {}
    for name, section in raw.get("models", {}).items():
        try:
            specs[name] = ModelSpec(name=name, **section)
        except TypeError as exc:
            raise ConfigurationError(f"model catalog {path}, [models.{name}]: {exc}") from exc
    if not specs:
        raise ConfigurationError(f"model catalog {path} defines no [models.*] section")
    return specs


def all_models() -> dict[str, ModelSpec]:
    return _load(catalog_path())


def model_names() -> list[str]:
    return sorted(all_models())


def ab_metric_names() -> list[str]:
    """Every A/B metric some model defines (the ``ab_test`` form's choices)."""
    return sorted({name for spec in all_models().values() for name in spec.ab_metrics})


def get_model(name: str) -> ModelSpec:
    models = all_models()
    if name not in models:
        raise UnknownModelError(
            f"unknown model {name!r}; the catalog {catalog_path()} defines: {', '.join(sorted(models))}"
        )
    return models[name]
