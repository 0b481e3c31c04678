"""Waiting for an endpoint change without holding a worker slot.

A task submits the change (``Endpoints.deploy(..., wait=False)``) and returns the endpoints
and variants it asked for; this sensor then looks, in reschedule mode, until each endpoint
serves them (``Endpoints.settle``). On the local backend a change is instant, so the first
look is the last; on SageMaker an endpoint takes minutes to create or update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, TypedDict, cast

from airflow.sdk import BaseSensorOperator

from findining_airflow.runtime import PlatformMixin


class VariantFields(TypedDict):
    """A ``ProductionVariant``'s fields, as XCom carries them."""

    variant_name: str
    model_name: str
    model_version: int
    artifact_uri: str
    weight: float


class SettleTarget(TypedDict):
    """An endpoint and the variants the sensor waits for it to serve."""

    endpoint: str
    variants: list[VariantFields]


def settle_target(endpoint_name: str, variants: list) -> SettleTarget:
    """What the sensor waits for: the endpoint serving these ``ProductionVariant`` s."""
    return {"endpoint": endpoint_name, "variants": [cast(VariantFields, asdict(v)) for v in variants]}


class EndpointSettledSensor(PlatformMixin, BaseSensorOperator):
    """Done once every target endpoint is in service with its variants (none: done at once).

    A rolled-back or failed update fails the task with SageMaker's reason.

    :param targets: ``settle_target`` dicts, usually the output of the task that submitted the changes.
    """

    template_fields: Sequence[str] = ("targets",)
    ui_color = "#e4f0ff"

    def __init__(self, *, targets: Any, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", 30)
        super().__init__(**kwargs)
        self.targets = targets

    def poke(self, context) -> bool:
        from findining_mlops.platform.ports import ProductionVariant

        waiting = []
        for target in self.targets or []:
            variants = [ProductionVariant(**v) for v in target["variants"]]
            if self.platform.endpoints.settle(target["endpoint"], variants) is None:
                waiting.append(target["endpoint"])
        if waiting:
            self.log.info("still updating: %s; looking again in %s s", ", ".join(waiting), self.poke_interval)
            return False
        self.log.info("serving as asked: %s", ", ".join(t["endpoint"] for t in self.targets or [])
                      or "nothing to wait for")
        return True
