"""Loads a model's SageMaker scikit-learn serving handlers from its inference module."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from findining_mlops.errors import ConfigurationError

HANDLER_NAMES = ("model_fn", "input_fn", "predict_fn", "output_fn")


@dataclass(frozen=True)
class ServingHandlers:
    model_fn: Callable[[str], Any]
    input_fn: Callable[[bytes | str, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], bytes | str]


def load_handlers(module_name: str) -> ServingHandlers:
    module = importlib.import_module(module_name)
    missing = [name for name in HANDLER_NAMES if not callable(getattr(module, name, None))]
    if missing:
        raise ConfigurationError(f"inference module {module_name} lacks the serving handler(s) {', '.join(missing)}")
    return ServingHandlers(*(getattr(module, name) for name in HANDLER_NAMES))
