"""How long a rollout may take: the bake sensor's timeout, and the ramps that finish within it.

A rollout still baking when its sensor times out is aborted (the champion back at 100 %), so
a ramp whose bake alone outlasts the timeout is certain to end that way: ``plan`` refuses it
before the endpoint changes, and the model_deployment form bounds ``bake_minutes`` by the
longest single step that fits.
"""

from __future__ import annotations

from datetime import timedelta

from findining_mlops.errors import DataValidationError

# how long the model_deployment DAG's bake sensor waits for a rollout to end
BAKE_TIMEOUT = timedelta(hours=24)
# what each endpoint change may take besides the bake: a SageMaker endpoint update takes minutes
ENDPOINT_CHANGE_MARGIN = timedelta(minutes=15)


def _endpoint_changes(steps: int) -> int:
    """Each step's shape, then the ending's (the winner alone)."""
    return steps + 1


def longest_bake_minutes(steps: int) -> float:
    """The longest bake per step with which a ramp of ``steps`` steps ends before ``BAKE_TIMEOUT``."""
    margin = _endpoint_changes(steps) * ENDPOINT_CHANGE_MARGIN
    return (BAKE_TIMEOUT - margin).total_seconds() / 60 / steps


def check_bake_fits(steps: int, bake_minutes: float) -> None:
    """Raises DataValidationError, naming the figures, when ``steps`` steps of ``bake_minutes``
    plus the endpoint changes' margin cannot finish within ``BAKE_TIMEOUT``."""
    changes = _endpoint_changes(steps)
    needed = timedelta(minutes=steps * bake_minutes) + changes * ENDPOINT_CHANGE_MARGIN
    if needed > BAKE_TIMEOUT:
        raise DataValidationError(
            f"{steps} ramp step(s) x bake_minutes {bake_minutes:g} + {changes} endpoint change(s) x "
            f"{ENDPOINT_CHANGE_MARGIN.total_seconds() / 60:g} min = {needed.total_seconds() / 60:g} min, longer than "
            f"the bake's timeout of {BAKE_TIMEOUT.total_seconds() / 60:g} min: the rollout would time out; "
            f"use at most {longest_bake_minutes(steps):g} bake_minutes for {steps} step(s), or fewer steps")
