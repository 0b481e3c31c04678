"""The embedded local backend: real training, serving, registry and alerts on one machine."""

from __future__ import annotations

from pathlib import Path

from findining_mlops.config.catalog import RESOURCE_PREFIX, get_model
from findining_mlops.platform.local.abtests import LocalABTests
from findining_mlops.platform.local.db import StateDB
from findining_mlops.platform.local.endpoints import LocalEndpoints, ModelServing
from findining_mlops.platform.local.metrics import LocalMetrics
from findining_mlops.platform.local.model_checks import LocalModelChecks
from findining_mlops.platform.local.notifications import LocalNotifications
from findining_mlops.platform.local.registry import LocalModelRegistry
from findining_mlops.platform.local.store import LocalArtifactStore
from findining_mlops.platform.local.training import LocalTrainingJobs
from findining_mlops.platform.ports import Platform

ALERTS_TOPIC = f"local:{RESOURCE_PREFIX}-ml-alerts"


def _serving(model_name: str) -> ModelServing:
    """The catalog's serving settings of a model (``models.toml``)."""
    spec = get_model(model_name)
    return ModelServing(spec.inference_module, int(spec.serving["workers"]))


def local_platform(home: Path, seed: int | None = None) -> Platform:
    """The platform rooted at ``home`` (``FINDINING_HOME``): ``store/`` is the bucket."""
    home = Path(home)
    store = LocalArtifactStore(home / "store")
    db = StateDB(home / "platform.db")
    metrics = LocalMetrics(db)
    return Platform(
        store=store,
        training=LocalTrainingJobs(home / "training-jobs", store),
        checks=LocalModelChecks(store),
        registry=LocalModelRegistry(db, store),
        endpoints=LocalEndpoints(db, store, metrics, _serving, seed=seed),
        metrics=metrics,
        notifications=LocalNotifications(home / "alerts.log", ALERTS_TOPIC),
        abtests=LocalABTests(db, store),
    )
