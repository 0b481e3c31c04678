"""Canary rollout of a model version on its endpoint, with automatic rollback.

The champion keeps ``100 - c`` % of the traffic and the challenger gets ``c`` %; each ramp
step bakes while per-variant alarms judge the challenger (latency, 5XX rate, prediction
shift against the champion). Any alarm rolls back: the challenger variant is removed and
its version marked ``Rejected`` with the alarm. All green through the last step promotes:
the challenger serves 100 % and the old variant is retired. What each look decides is the
pure verdict of ``deployment.verdict``; this module reads what it judges and carries it out.

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
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.deployment.bake_time import check_bake_fits
from findining_mlops.deployment.canary import read_bake, split_weights, validate_rollout
from findining_mlops.deployment.verdict import (
    BAKING,
    PROMOTE,
    RAMP,
    ROLLBACK,
    AlarmRecord,
    BakeLook,
    BakeReadings,
    CanaryThresholds,
    Verdict,
    judge,
)
from findining_mlops.errors import DataValidationError, EndpointError, RegistryError
from findining_mlops.platform.ports import APPROVED, IN_SERVICE, REJECTED, ModelVersion, Platform, ProductionVariant
from findining_mlops.platform.records import EndpointRecord
from findining_mlops.registry import versions
from findining_mlops.registry.variants import production_variant, variant_name
from findining_mlops.store.json import read_json_if_exists
from findining_mlops.store.layout import rollout_state_key

log = logging.getLogger(__name__)
# how long a ramp step may wait for the traffic its alarms need, unless the model or the
# trigger says otherwise; never shorter than twice the bake time
DEFAULT_INSUFFICIENT_DATA_MINUTES = 60.0


class StepRecord(TypedDict):
    """When the endpoint took a ramp step's shape."""

    step: int
    percent: int
    at: str


class RolloutEnd(TypedDict):
    """What ``finish`` or ``abort`` did, as the finish task returns it: how the rollout ended
    (``outcome``: promote or rollback), the endpoint left behind, and for a rollback why."""

    outcome: str
    endpoint: EndpointRecord | None
    note: NotRequired[str]


# the Rollout fields whose key in state.json is not their name
_STORED_KEYS = {"ending": "outcome"}


@dataclass
class Rollout:
    """Everything a rollout decided up front plus where it is now; plain data, saved in the
    store and handed from task to task as ``to_dict`` writes it."""

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
    ending: str = BAKING  # baking until a look decides how the rollout ends: promote or rollback
    pending: bool = False  # the endpoint is still taking the shape of the current step or ending
    alarms: list[AlarmRecord] = field(default_factory=list)  # the last look's
    history: list[StepRecord] = field(default_factory=list)
    reason: str = ""  # why the rollout ended as it did
    finished: bool = False  # the ending is on the endpoint and in the deployment history

    def to_dict(self) -> dict[str, Any]:
        """The rollout as state.json and the tasks hold it, in field order; the ending is
        stored under the key ``outcome``."""
        return {_STORED_KEYS.get(name, name): value for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, stored: dict) -> Rollout:
        fields_of = {key: name for name, key in _STORED_KEYS.items()}
        return cls(**{fields_of.get(key, key): value for key, value in stored.items()})


def plan(platform: Platform, spec: ModelSpec, version: int | None, strategy: str, canary_percent: int,
         ramp: list[int], bake_minutes: float, rollout_id: str,
         insufficient_data_minutes: float | None = None) -> Rollout:
    """Validates everything before the endpoint is touched; raises with a clear message,
    also for a ramp whose bake cannot end before the bake sensor's timeout (the ramp as asked
    for, even where a first deployment will take all traffic at once).
    ``version`` None deploys the latest ``Approved`` version."""
    validate_rollout(strategy, canary_percent, ramp)
    check_bake_fits(len(ramp) if strategy == "canary" else 1, bake_minutes)
    limit = _insufficient_data_limit(spec, bake_minutes, insufficient_data_minutes)
    challenger = _deployable(platform, spec, version)
    champion = _champion_of(platform, spec, challenger)
    if champion is None:
        strategy = "all_at_once"  # nothing to compare with: the first version takes all traffic
    steps = ramp if strategy == "canary" else [100]
    return Rollout(rollout_id, spec.name, spec.endpoint_name, challenger.version, champion, strategy, list(steps),
                   bake_minutes, limit)


def _insufficient_data_limit(spec: ModelSpec, bake_minutes: float, given: float | None) -> float:
    """``given``, else the model's ``deployment`` setting, else ``DEFAULT_INSUFFICIENT_DATA_MINUTES``
    (at least twice the bake time)."""
    if bake_minutes < 0:
        raise DataValidationError(f"bake_minutes {bake_minutes} must be >= 0")
    if given is None:
        given = spec.deployment.get("insufficient_data_minutes") or max(
            DEFAULT_INSUFFICIENT_DATA_MINUTES, 2 * bake_minutes)
    if given < bake_minutes or given <= 0:
        raise DataValidationError(
            f"insufficient_data_minutes {given} must be > 0 and at least bake_minutes "
            f"{bake_minutes}: a step cannot be judged before its bake time is up")
    return float(given)


def _deployable(platform: Platform, spec: ModelSpec, version: int | None) -> ModelVersion:
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
    return challenger


def _champion_of(platform: Platform, spec: ModelSpec, challenger: ModelVersion) -> int | None:
    """The busiest other variant's version (after an A/B test the winner is already one of
    two); None on a new endpoint. Refuses a version that already serves alone."""
    endpoint = platform.endpoints.describe(spec.endpoint_name)
    variants = endpoint.variants if endpoint else ()
    if [v.model_version for v in variants] == [challenger.version]:
        raise DataValidationError(f"{spec.name} {challenger.display} already serves {spec.endpoint_name}")
    others = [v for v in variants if v.model_version != challenger.version]
    return max(others, key=lambda v: v.weight).model_version if others else None


def save(platform: Platform, rollout: Rollout) -> None:
    # in field order, unlike store.json's sorted documents: every saved state has these bytes
    platform.store.write_bytes(rollout_state_key(rollout.endpoint, rollout.rollout_id),
                               json.dumps(rollout.to_dict(), indent=2).encode())


def load(platform: Platform, endpoint: str, rollout_id: str) -> Rollout | None:
    saved = read_json_if_exists(platform.store, rollout_state_key(endpoint, rollout_id))
    return Rollout.from_dict(saved) if saved is not None else None


def _now() -> datetime:
    return datetime.now(UTC)


def target_variants(platform: Platform, rollout: Rollout) -> list[ProductionVariant]:
    """The endpoint's shape for the current step, or once it has ended: the winner alone."""
    if rollout.ending != BAKING or rollout.champion is None:
        winner = rollout.champion if rollout.ending == ROLLBACK else rollout.challenger
        return [production_variant(platform.registry.get(rollout.model, winner), 1.0)]
    champion = platform.registry.get(rollout.model, rollout.champion)
    challenger = platform.registry.get(rollout.model, rollout.challenger)
    weights = split_weights(variant_name(champion), variant_name(challenger), rollout.ramp[rollout.step])
    return [production_variant(champion, weights[variant_name(champion)]),
            production_variant(challenger, weights[variant_name(challenger)])]


def _apply_step(platform: Platform, rollout: Rollout) -> None:
    """Submits the current step's (or the ending's) shape without waiting and marks the
    rollout ``pending`` until the endpoint serves it; a no-op when it already does."""
    variants = target_variants(platform, rollout)
    current = platform.endpoints.describe(rollout.endpoint)
    wanted = {(v.variant_name, v.model_version) for v in variants}
    if current is not None and {(v.variant_name, v.model_version) for v in current.variants} == wanted:
        endpoint = platform.endpoints.update_weights(rollout.endpoint, {v.variant_name: v.weight for v in variants},
                                                     wait=False)
    else:
        endpoint = platform.endpoints.deploy(rollout.endpoint, variants, wait=False)
    rollout.pending = endpoint.status != IN_SERVICE
    challenger = versions.version_names(platform.registry, rollout.model)[rollout.challenger]
    shape = (f"step {rollout.step + 1}/{len(rollout.ramp)}, challenger {challenger} at "
             f"{rollout.ramp[rollout.step]} %" if rollout.ending == BAKING
             else f"{rollout.ending}: {len(variants)} variant")
    log.info("%s: %s (%s)", rollout.endpoint, shape, endpoint.status)


def start(platform: Platform, rollout: Rollout) -> Rollout:
    """First step; on a retry the saved state wins so nothing starts over."""
    saved = load(platform, rollout.endpoint, rollout.rollout_id)
    if saved is not None:
        return saved
    _apply_step(platform, rollout)
    rollout.step_started = _now().isoformat()
    rollout.history.append(StepRecord(step=0, percent=rollout.ramp[0], at=rollout.step_started))
    save(platform, rollout)
    return rollout


def bake(platform: Platform, spec: ModelSpec, rollout: Rollout, thresholds: CanaryThresholds,
         now: datetime | None = None) -> Rollout:
    """One look: settle a pending endpoint change, else read the current step's alarms, judge
    them (``verdict.judge``) and carry the verdict out."""
    now = now or _now()
    if rollout.pending and not _settled(platform, rollout, now):
        return rollout  # SageMaker is still updating it: look again at the next poke
    if rollout.ending != BAKING:
        return rollout
    started = datetime.fromisoformat(rollout.step_started)
    if now <= started:  # the step's bake starts at this very look: nothing to judge yet
        return rollout
    platform.endpoints.flush()
    look = BakeLook(rollout.step, tuple(rollout.ramp), rollout.bake_minutes, rollout.insufficient_data_minutes,
                    now - started, _read(platform, spec, rollout, started, now, thresholds))
    _carry_out(platform, rollout, judge(look, thresholds), now)
    return rollout


def _settled(platform: Platform, rollout: Rollout, now: datetime) -> bool:
    """Whether the endpoint now serves the shape the rollout asked for; a step's bake starts
    once it does."""
    if platform.endpoints.settle(rollout.endpoint, target_variants(platform, rollout)) is None:
        return False
    rollout.pending = False
    if rollout.ending == BAKING:
        rollout.step_started = rollout.history[-1]["at"] = now.isoformat()
    save(platform, rollout)
    return True


def _read(platform: Platform, spec: ModelSpec, rollout: Rollout, start: datetime, end: datetime,
          thresholds: CanaryThresholds) -> BakeReadings | None:
    """What the alarms judge; None without a champion to judge against."""
    if rollout.champion is None:
        return None
    champion = variant_name(platform.registry.get(rollout.model, rollout.champion))
    challenger = variant_name(platform.registry.get(rollout.model, rollout.challenger))
    return read_bake(platform, spec, rollout.endpoint, champion, challenger, start, end,
                     thresholds.min_prediction_samples)


def _carry_out(platform: Platform, rollout: Rollout, verdict: Verdict, now: datetime) -> None:
    """Records the look's alarms and, unless the step keeps baking, submits the endpoint's
    next shape: the next step, or the ending's single variant (a later look settles it)."""
    rollout.alarms = [a.to_dict() for a in verdict.alarms]
    if verdict.action == ROLLBACK:
        rollout.ending, rollout.reason = ROLLBACK, verdict.reason
    elif verdict.action == PROMOTE:
        rollout.ending = PROMOTE
    elif verdict.action == RAMP:
        rollout.step += 1
        rollout.step_started = now.isoformat()
        rollout.history.append(StepRecord(step=rollout.step, percent=rollout.ramp[rollout.step],
                                          at=rollout.step_started))
    if verdict.action != BAKING:
        _apply_step(platform, rollout)
    save(platform, rollout)


def finish(platform: Platform, rollout: Rollout, run: str) -> RolloutEnd:
    """Promote or roll back; both leave a single-variant endpoint and a registry record.
    A challenger rolled back by an alarm is marked ``Rejected``; one that merely lacked the
    traffic to be judged stays ``Approved`` and may be deployed again."""
    if rollout.ending == PROMOTE:
        endpoint = platform.endpoints.deploy(rollout.endpoint, target_variants(platform, rollout))
        platform.registry.record_deployment(rollout.model, rollout.challenger, rollout.endpoint, "promoted",
                                            f"ramp {rollout.ramp}", run)
        rollout.reason, rollout.finished = f"promoted through ramp {rollout.ramp}", True
        save(platform, rollout)
        return RolloutEnd(outcome=PROMOTE, endpoint=endpoint.to_dict())
    if rollout.ending != ROLLBACK:
        raise EndpointError(f"rollout {rollout.rollout_id} of {rollout.endpoint} is still {rollout.ending}")
    if any(a["firing"] for a in rollout.alarms):
        platform.registry.update_status(rollout.model, rollout.challenger, REJECTED, rollout.reason)
    return _restore_champion(platform, rollout, run)


def abort(platform: Platform, rollout: Rollout, cause: str, run: str) -> RolloutEnd | None:
    """Ends a rollout that stopped before ``finish`` recorded its ending (a task failed,
    the bake timed out, someone marked the run failed; ``verdict.abort_cause`` says which):
    the champion serves 100 % again and the deployment history says why. ``None`` when the
    rollout had already finished."""
    if rollout.finished:
        return None
    last_look = "; ".join(a["detail"] for a in rollout.alarms)
    rollout.reason = (f"rolled back: the rollout stopped at step {rollout.step + 1}/{len(rollout.ramp)} "
                      f"({rollout.ramp[rollout.step]} %, {rollout.ending}) before it finished: {cause}"
                      + (f"; the alarms' last look: {last_look}" if last_look else ""))
    rollout.ending = ROLLBACK
    return _restore_champion(platform, rollout, run)


def _restore_champion(platform: Platform, rollout: Rollout, run: str) -> RolloutEnd:
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
    return RolloutEnd(outcome=ROLLBACK, endpoint=endpoint.to_dict() if endpoint else None, note=rollout.reason)
