"""Canary rollout of a model version on its endpoint, with automatic rollback.

The champion keeps ``100 - c`` % of the traffic and the challenger gets ``c`` %; each ramp
step bakes while per-variant alarms judge the challenger (latency, 5XX rate, prediction
shift against the champion). Any alarm rolls back: the challenger variant is removed and
its version marked ``Rejected`` with the alarm. All green through the last step promotes:
the challenger serves 100 % and the old variant is retired.

Every other end also restores the champion at 100 % and records why: a step that cannot
get the traffic its alarms need within ``insufficient_data_minutes`` rolls back (the
version stays ``Approved``: nothing was found wrong with it), and a rollout whose tasks
failed, timed out or were marked failed is ended by ``abort`` from the DAG's teardown.

The rollout's state lives in the store under ``deployments/<endpoint>/<rollout id>/`` so a
retried task resumes where it was, and every endpoint change is a deterministic config, so
re-applying it changes nothing.

Endpoint changes are submitted without waiting (``deploy(..., wait=False)``; SageMaker takes
minutes): the rollout is then ``pending`` and the bake, a reschedule-mode sensor, settles the
endpoint before it judges — and, once it has decided, applies and settles the final shape
too — so no worker slot is held while SageMaker updates. ``finish`` re-applies that shape,
which is then a no-op.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.deployment.canary import CanaryThresholds, evaluate_alarms, split_weights, validate_rollout
from findining_mlops.errors import DataValidationError, EndpointError, RegistryError
from findining_mlops.platform.ports import APPROVED, IN_SERVICE, REJECTED, Platform, ProductionVariant
from findining_mlops.registry import versions
from findining_mlops.registry.variants import variant_name

log = logging.getLogger(__name__)
PROMOTE, ROLLBACK, BAKING = "promote", "rollback", "baking"
# how long a ramp step may wait for the traffic its alarms need, unless the model or the
# trigger says otherwise; never shorter than twice the bake time
DEFAULT_INSUFFICIENT_DATA_MINUTES = 60.0


@dataclass
class Rollout:
    """Everything a rollout decided up front plus where it is now."""

    rollout_id: str
    model: str
    endpoint: str
    challenger: int
    champion: int | None
    strategy: str
    ramp: list[int]
    bake_minutes: float
    # a step still without enough traffic to judge this long after it started rolls back
    insufficient_data_minutes: float = DEFAULT_INSUFFICIENT_DATA_MINUTES
    step: int = 0
    step_started: str = ""  # when the endpoint took the current step's shape: the bake clock
    outcome: str = BAKING
    pending: bool = False  # the endpoint is still taking the shape of the current step or outcome
    alarms: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    reason: str = ""  # why the rollout ended as it did
    finished: bool = False  # the outcome is on the endpoint and in the deployment history

    @property
    def state_key(self) -> str:
        return f"deployments/{self.endpoint}/{self.rollout_id}/state.json"


def _variant(platform: Platform, model: str, version: int, weight: float) -> ProductionVariant:
    mv = platform.registry.get(model, version)
    return ProductionVariant(variant_name(mv), model, version, mv.artifact_uri, weight)


def plan(platform: Platform, spec: ModelSpec, version: int | None, strategy: str, canary_percent: int,
         ramp: list[int], bake_minutes: float, rollout_id: str,
         insufficient_data_minutes: float | None = None) -> Rollout:
    """Validates everything before the endpoint is touched; raises with a clear message.
    ``insufficient_data_minutes`` defaults to the model's ``deployment`` setting, else
    ``DEFAULT_INSUFFICIENT_DATA_MINUTES`` (at least twice the bake time)."""
    validate_rollout(strategy, canary_percent, ramp)
    if bake_minutes < 0:
        raise DataValidationError(f"bake_minutes {bake_minutes} must be >= 0")
    if insufficient_data_minutes is None:
        insufficient_data_minutes = spec.deployment.get("insufficient_data_minutes") or max(
            DEFAULT_INSUFFICIENT_DATA_MINUTES, 2 * bake_minutes)
    if insufficient_data_minutes < bake_minutes or insufficient_data_minutes <= 0:
        raise DataValidationError(
            f"insufficient_data_minutes {insufficient_data_minutes} must be > 0 and at least bake_minutes "
            f"{bake_minutes}: a step cannot be judged before its bake time is up")
    if version is None:
        latest = platform.registry.latest(spec.name, APPROVED)
        if latest is None:
            raise RegistryError(f"{spec.name} has no Approved version to deploy")
        version = latest.version
    challenger = platform.registry.get(spec.name, version)  # RegistryError names an unknown version
    if challenger.status != APPROVED:
        raise RegistryError(f"{spec.name} {challenger.display} is {challenger.status}"
                            f"{': ' + challenger.status_note if challenger.status_note else ''}; "
                            "only Approved versions deploy")
    endpoint = platform.endpoints.describe(spec.endpoint_name)
    variants = endpoint.variants if endpoint else ()
    if [v.model_version for v in variants] == [version]:
        raise DataValidationError(f"{spec.name} {challenger.display} already serves {spec.endpoint_name}")
    # the champion is the busiest other variant (after an A/B test the winner is already one of two)
    others = [v for v in variants if v.model_version != version]
    champion = max(others, key=lambda v: v.weight).model_version if others else None
    if champion is None:
        strategy = "all_at_once"  # nothing to compare with: the first version takes all traffic
    steps = ramp if strategy == "canary" else [100]
    return Rollout(rollout_id, spec.name, spec.endpoint_name, version, champion, strategy, list(steps), bake_minutes,
                   float(insufficient_data_minutes))


def save(platform: Platform, rollout: Rollout) -> None:
    platform.store.write_bytes(rollout.state_key, json.dumps(asdict(rollout), indent=2).encode())


def load(platform: Platform, endpoint: str, rollout_id: str) -> Rollout | None:
    key = f"deployments/{endpoint}/{rollout_id}/state.json"
    return Rollout(**json.loads(platform.store.read_bytes(key))) if platform.store.exists(key) else None


def _now() -> datetime:
    return datetime.now(UTC)


def target_variants(platform: Platform, rollout: Rollout) -> list[ProductionVariant]:
    """The endpoint's shape for the current step, or after the outcome: the winner alone."""
    if rollout.outcome != BAKING or rollout.champion is None:
        winner = rollout.champion if rollout.outcome == ROLLBACK else rollout.challenger
        return [_variant(platform, rollout.model, winner, 1.0)]
    champion = variant_name(platform.registry.get(rollout.model, rollout.champion))
    challenger = variant_name(platform.registry.get(rollout.model, rollout.challenger))
    weights = split_weights(champion, challenger, rollout.ramp[rollout.step])
    return [_variant(platform, rollout.model, rollout.champion, weights[champion]),
            _variant(platform, rollout.model, rollout.challenger, weights[challenger])]


def apply_step(platform: Platform, rollout: Rollout, wait: bool = True) -> dict:
    """Puts the endpoint in the current step's (or the outcome's) shape; a no-op when it
    already is. ``wait=False`` submits the change and marks the rollout ``pending``."""
    variants = target_variants(platform, rollout)
    current = platform.endpoints.describe(rollout.endpoint)
    wanted = {(v.variant_name, v.model_version) for v in variants}
    if current is not None and {(v.variant_name, v.model_version) for v in current.variants} == wanted:
        endpoint = platform.endpoints.update_weights(rollout.endpoint, {v.variant_name: v.weight for v in variants},
                                                     wait=wait)
    else:
        endpoint = platform.endpoints.deploy(rollout.endpoint, variants, wait=wait)
    rollout.pending = endpoint.status != IN_SERVICE
    challenger = versions.display(platform.registry, rollout.model, rollout.challenger)
    shape = (f"step {rollout.step + 1}/{len(rollout.ramp)}, challenger {challenger} at "
             f"{rollout.ramp[rollout.step]} %" if rollout.outcome == BAKING
             else f"{rollout.outcome}: {len(variants)} variant")
    log.info("%s: %s (%s)", rollout.endpoint, shape, endpoint.status)
    return endpoint.to_dict()


def start(platform: Platform, rollout: Rollout) -> Rollout:
    """First step; on a retry the saved state wins so nothing starts over."""
    saved = load(platform, rollout.endpoint, rollout.rollout_id)
    if saved is not None:
        return saved
    apply_step(platform, rollout, wait=False)
    rollout.step_started = _now().isoformat()
    rollout.history.append({"step": 0, "percent": rollout.ramp[0], "at": rollout.step_started})
    save(platform, rollout)
    return rollout


def bake(platform: Platform, spec: ModelSpec, rollout: Rollout, thresholds: CanaryThresholds,
         now: datetime | None = None) -> Rollout:
    """One look: settle a pending endpoint change, else judge the alarms of the current step
    and roll back, advance, promote, or keep baking."""
    now = now or _now()
    if rollout.pending:
        if platform.endpoints.settle(rollout.endpoint, target_variants(platform, rollout)) is None:
            return rollout  # SageMaker is still updating it: look again at the next poke
        rollout.pending = False
        if rollout.outcome == BAKING:  # the step's bake starts now that the endpoint serves it
            rollout.step_started = rollout.history[-1]["at"] = now.isoformat()
        save(platform, rollout)
    if rollout.outcome != BAKING:
        return rollout
    started = datetime.fromisoformat(rollout.step_started)
    if now <= started:  # the step's bake starts at this very look: nothing to judge yet
        return rollout
    platform.endpoints.flush()
    rollout.alarms = []
    if rollout.champion is not None:
        champion = variant_name(platform.registry.get(rollout.model, rollout.champion))
        challenger = variant_name(platform.registry.get(rollout.model, rollout.challenger))
        alarms = evaluate_alarms(platform, spec, rollout.endpoint, champion, challenger, started, now, thresholds)
        rollout.alarms = [a.to_dict() for a in alarms]
        fired = [a for a in alarms if a.firing]
        if fired:
            _end_with_rollback(platform, rollout, "rolled back by canary alarm(s): " + "; ".join(
                f"{a.name} on {a.variant} = {a.value} (threshold {a.threshold})" for a in fired))
            return rollout
    # a step ends when its bake time is up and the alarms could judge it (enough traffic);
    # a bake time of 0 asks for no bake (e.g. the winner of an A/B test, judged on real users)
    unjudged = [] if rollout.bake_minutes == 0 else [a for a in rollout.alarms if a.get("insufficient_data")]
    if unjudged and now - started >= timedelta(minutes=rollout.insufficient_data_minutes):
        _end_with_rollback(platform, rollout, (
            f"rolled back for insufficient data: step {rollout.step + 1}/{len(rollout.ramp)} "
            f"({rollout.ramp[rollout.step]} %) could not be judged within insufficient_data_minutes "
            f"{rollout.insufficient_data_minutes:g}: " + "; ".join(a["detail"] for a in unjudged)))
        return rollout
    if now - started >= timedelta(minutes=rollout.bake_minutes) and not unjudged:
        if rollout.step + 1 >= len(rollout.ramp):
            rollout.outcome = PROMOTE
            apply_step(platform, rollout, wait=False)
        else:
            rollout.step += 1
            apply_step(platform, rollout, wait=False)
            rollout.step_started = now.isoformat()
            rollout.history.append({"step": rollout.step, "percent": rollout.ramp[rollout.step],
                                    "at": rollout.step_started})
    save(platform, rollout)
    return rollout


def _end_with_rollback(platform: Platform, rollout: Rollout, reason: str) -> None:
    """Decides the rollback and submits the champion-only shape; the bake settles it."""
    rollout.outcome, rollout.reason = ROLLBACK, reason
    apply_step(platform, rollout, wait=False)
    save(platform, rollout)


def finish(platform: Platform, rollout: Rollout, run: str) -> dict:
    """Promote or roll back; both leave a single-variant endpoint and a registry record.
    A challenger rolled back by an alarm is marked ``Rejected``; one that merely lacked the
    traffic to be judged stays ``Approved`` and may be deployed again."""
    if rollout.outcome == PROMOTE:
        endpoint = platform.endpoints.deploy(rollout.endpoint, target_variants(platform, rollout))
        platform.registry.record_deployment(rollout.model, rollout.challenger, rollout.endpoint, "promoted",
                                            f"ramp {rollout.ramp}", run)
        rollout.reason, rollout.finished = f"promoted through ramp {rollout.ramp}", True
        save(platform, rollout)
        return {"outcome": PROMOTE, "endpoint": endpoint.to_dict()}
    if rollout.outcome != ROLLBACK:
        raise EndpointError(f"rollout {rollout.rollout_id} of {rollout.endpoint} is still {rollout.outcome}")
    if any(a["firing"] for a in rollout.alarms):
        platform.registry.update_status(rollout.model, rollout.challenger, REJECTED, rollout.reason)
    return _restore_champion(platform, rollout, run)


def abort(platform: Platform, rollout: Rollout, cause: str, run: str) -> dict | None:
    """Ends a rollout that stopped before ``finish`` recorded its outcome (a task failed,
    the bake timed out, someone marked the run failed): the champion serves 100 % again and
    the deployment history says why. ``None`` when the rollout had already finished."""
    if rollout.finished:
        return None
    last_look = "; ".join(a["detail"] for a in rollout.alarms)
    rollout.reason = (f"rolled back: the rollout stopped at step {rollout.step + 1}/{len(rollout.ramp)} "
                      f"({rollout.ramp[rollout.step]} %, {rollout.outcome}) before it finished: {cause}"
                      + (f"; the alarms' last look: {last_look}" if last_look else ""))
    rollout.outcome = ROLLBACK
    return _restore_champion(platform, rollout, run)


def _restore_champion(platform: Platform, rollout: Rollout, run: str) -> dict:
    """The champion alone at 100 % (waited for: the endpoint is left in a settled state),
    the rollback in the deployment history, and the rollout marked finished. A first
    deployment has no champion to go back to: its endpoint is left as it is, and the
    failure is recorded."""
    if rollout.champion is None:
        platform.registry.record_deployment(rollout.model, rollout.challenger, rollout.endpoint, "failed",
                                            rollout.reason, run)
        endpoint = platform.endpoints.describe(rollout.endpoint)
    else:
        endpoint = platform.endpoints.deploy(rollout.endpoint, target_variants(platform, rollout))
        platform.registry.record_deployment(rollout.model, rollout.challenger, rollout.endpoint, "rolled_back",
                                            rollout.reason, run)
    rollout.finished = True
    save(platform, rollout)
    return {"outcome": ROLLBACK, "endpoint": endpoint.to_dict() if endpoint else None, "note": rollout.reason}
