"""Imported once by the model servers' fork server, so that a worker (and a worker that is
restarted after a crash) starts in a fraction of a second instead of importing pandas and
scikit-learn for seconds: the catalog's inference modules and the HTTP stack."""

from __future__ import annotations

import logging

import starlette.applications  # noqa: F401  (the import is the point)
import uvicorn  # noqa: F401

from findining_mlops.config.catalog import all_models
from findining_mlops.serving.server.handlers import load_handlers

log = logging.getLogger(__name__)

for _spec in all_models().values():
    try:
        load_handlers(_spec.inference_module)
    except Exception as _exc:  # a broken module fails in its worker, with its own error
        log.warning("fork server could not preload %s: %s", _spec.inference_module, _exc)
