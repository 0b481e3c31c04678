"""Baking a canary: a sensor that looks at the challenger's alarms until the rollout
promotes or rolls back, without holding a worker slot between looks — nor while SageMaker
updates the endpoint: the rollout submits each change without waiting and the sensor
settles it (``findining_mlops.deployment.rollout``; each look's verdict is
``findining_mlops.deployment.verdict``).

A short bake (a drill's quarter of a minute, an A/B winner's none) is the exception: its
looks are seconds apart, and a look rescheduled that soon can start before the previous
look's process has exited. The scheduler then reads that exit as a task killed externally
and fails the try (apache/airflow#71172, open in the Airflow this project pins): a healthy
canary retried, or rolled back once its retries are spent. So looks closer together than
``SHORTEST_RESCHEDULE_S`` are made in one process, which holds its slot for the short bake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from findining_airflow.runtime import PlatformMixin
from findining_mlops.deployment.bake_time import BAKE_TIMEOUT

LOOKS_PER_BAKE = 6
SHORTEST_RESCHEDULE_S = 10.0


def look_interval_s(bake_minutes: float, longest_s: float) -> float:
    """Seconds until the next look: ``longest_s`` (the sensor's ``poke_interval``), but at least
    ``LOOKS_PER_BAKE`` looks per bake window, so that a short bake (a drill's half minute) ends
    close to its time rather than a whole interval later; not under a second for that."""
    return min(longest_s, max(1.0, bake_minutes * 60 / LOOKS_PER_BAKE))


def next_look(pending: bool, bake_minutes: float, longest_s: float) -> tuple[str, float]:
    """The sensor's mode and seconds until its next look: a pending endpoint change every
    ``longest_s``, rescheduled; a bake every ``look_interval_s``, rescheduled unless that is
    under ``SHORTEST_RESCHEDULE_S``, then in this process."""
    if pending:
        return "reschedule", longest_s
    seconds = look_interval_s(bake_minutes, longest_s)
    return ("reschedule" if seconds >= SHORTEST_RESCHEDULE_S else "poke"), seconds


class CanaryBakeSensor(PlatformMixin, BaseSensorOperator):
    """Bakes every ramp step of a rollout (``findining_mlops.deployment.rollout``).

    A poke while the endpoint is still taking a step's shape only checks on it (the step's
    bake starts once it serves). Otherwise it evaluates the per-variant alarms over the
    current step's window: an alarm ends the rollout as ``rollback``; a quiet, complete
    bake advances the weights to the next step, and after the last step the rollout ends
    as ``promote``; the sensor is done once the endpoint serves the ending's variant. The rollout's
    state is in the store, so a rescheduled or retried poke resumes where it was.

    :param model_name: a model of the catalog.
    :param rollout: the ``Rollout`` (as a dict) returned by the start task.
    :param thresholds: overrides of ``CanaryThresholds`` (seed defaults: 5 s latency, 5 % errors).
    :param poke_interval: the longest pause between looks (20 s); shorter for a short bake
        (``look_interval_s``), and then in this process (``SHORTEST_RESCHEDULE_S``). A pending
        endpoint change is looked at every ``poke_interval``, rescheduled: SageMaker takes minutes.
    :param timeout: ``BAKE_TIMEOUT``, the one ``plan`` fits every ramp's bake in.
    """

    template_fields: Sequence[str] = ("model_name", "rollout", "thresholds")
    ui_color = "#f0e4ff"

    def __init__(self, *, model_name: str, rollout: Any, thresholds: dict | None = None, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", 20)
        kwargs.setdefault("timeout", BAKE_TIMEOUT.total_seconds())
        super().__init__(**kwargs)
        self.longest_look_s: float | None = None  # poke_interval as configured, before a look shortens it
        self.model_name = model_name
        self.rollout = rollout
        self.thresholds = thresholds or {}

    def poke(self, context) -> PokeReturnValue:
        from findining_mlops.config.catalog import get_model
        from findining_mlops.deployment import rollout as deployment
        from findining_mlops.deployment.verdict import CanaryThresholds

        saved = deployment.load(self.platform, self.rollout["endpoint"], self.rollout["rollout_id"])
        thresholds = CanaryThresholds.from_overrides(self.thresholds)
        rollout = deployment.bake(self.platform, get_model(self.model_name), saved, thresholds)
        if self.longest_look_s is None:
            self.longest_look_s = self.poke_interval
        # both read by BaseSensorOperator.execute after this poke
        self.mode, self.poke_interval = next_look(rollout.pending, rollout.bake_minutes, self.longest_look_s)
        if rollout.pending:
            target = f"step {rollout.step + 1}" if rollout.ending == deployment.BAKING else rollout.ending
            self.log.info("%s is still updating (%s): looking again in %s s", rollout.endpoint, target,
                          self.poke_interval)
            return PokeReturnValue(is_done=False)
        firing = [a for a in rollout.alarms if a["firing"]]
        self.log.info("step %d/%d (%d %%): %s; alarms: %s", rollout.step + 1, len(rollout.ramp),
                      rollout.ramp[rollout.step], rollout.ending,
                      "; ".join(f"{a['name']}={a['value']} ({a['detail']})" for a in rollout.alarms) or "none yet")
        if firing:
            self.log.warning("alarm firing: %s", firing)
        return PokeReturnValue(is_done=rollout.ending != deployment.BAKING, xcom_value=rollout.to_dict())
