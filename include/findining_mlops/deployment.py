"""Canary rollout of a model version on its endpoint, with automatic rollback.

The champion keeps ``100 - c`` % of the traffic and the challenger gets ``c`` %; each ramp
step bakes while per-variant alarms judge the challenger (latency, 5XX rate, prediction
shift against the champion). Any alarm rolls back: the challenger variant is removed and
its version marked ``Rejected`` with the alarm. All green through the last step promotes:
the challenger serves 100 % and the old variant is retired.

The rollout's state lives in the store under ``deployments/<endpoint>/<rollout id>/`` so a
retried task resumes where it was, and every endpoint change is a deterministic config, so
re-applying it changes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from findining_mlops.canary import CanaryThresholds, evaluate_alarms, split_weights, validate_rollout
from findining_mlops.catalog import ModelSpec
from findining_mlops.errors import DataValidationError, EndpointError, RegistryError
from findining_mlops.platform.ports import APPROVED, REJECTED, Platform, ProductionVariant
from findining_mlops.retraining import variant_name

log = logging.getLogger(__name__)
PROMOTE, ROLLBACK, BAKING = "promote", "rollback", "baking"


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
    step: int = 0
    step_started: str = ""
    outcome: str = BAKING
    alarms: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)

    @property
    def state_key(self) -> str:
        return f"deployments/{self.endpoint}/{self.rollout_id}/state.json"


def _variant(platform: Platform, model: str, version: int, weight: float) -> ProductionVariant:
    mv = platform.registry.get(model, version)
    return ProductionVariant(variant_name(mv), model, version, mv.artifact_uri, weight)


def plan(platform: Platform, spec: ModelSpec, version: int | None, strategy: str, canary_percent: int,
         ramp: list[int], bake_minutes: float, rollout_id: str) -> Rollout:
    """Validates everything before the endpoint is touched; raises with a clear message."""
    validate_rollout(strategy, canary_percent, ramp)
    if bake_minutes < 0:
        raise DataValidationError(f"bake_minutes {bake_minutes} must be >= 0")
    if version is None:
        latest = platform.registry.latest(spec.name, APPROVED)
        if latest is None:
            raise RegistryError(f"{spec.name} has no Approved version to deploy")
        version = latest.version
    challenger = platform.registry.get(spec.name, version)  # RegistryError names an unknown version
    if challenger.status != APPROVED:
        raise RegistryError(f"{spec.name} v{version} is {challenger.status}"
                            f"{': ' + challenger.status_note if challenger.status_note else ''}; only Approved versions deploy")
    endpoint = platform.endpoints.describe(spec.endpoint_name)
    variants = endpoint.variants if endpoint else ()
    if [v.model_version for v in variants] == [version]:
        raise DataValidationError(f"{spec.name} v{version} already serves {spec.endpoint_name}")
    # the champion is the busiest other variant (after an A/B test the winner is already one of two)
    others = [v for v in variants if v.model_version != version]
    champion = max(others, key=lambda v: v.weight).model_version if others else None
    if champion is None:
        strategy = "all_at_once"  # nothing to compare with: the first version takes all traffic
    steps = ramp if strategy == "canary" else [100]
    return Rollout(rollout_id, spec.name, spec.endpoint_name, version, champion, strategy, list(steps), bake_minutes)


def save(platform: Platform, rollout: Rollout) -> None:
    platform.store.write_bytes(rollout.state_key, json.dumps(asdict(rollout), indent=2).encode())


def load(platform: Platform, endpoint: str, rollout_id: str) -> Rollout | None:
    key = f"deployments/{endpoint}/{rollout_id}/state.json"
    return Rollout(**json.loads(platform.store.read_bytes(key))) if platform.store.exists(key) else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def apply_step(platform: Platform, rollout: Rollout) -> dict:
    """Puts the endpoint in the current step's shape (a no-op when it already is)."""
    percent = rollout.ramp[rollout.step]
    challenger = variant_name(platform.registry.get(rollout.model, rollout.challenger))
    if rollout.champion is None:
        variants = [_variant(platform, rollout.model, rollout.challenger, 1.0)]
    else:
        champion = variant_name(platform.registry.get(rollout.model, rollout.champion))
        weights = split_weights(champion, challenger, percent)
        variants = [_variant(platform, rollout.model, rollout.champion, weights[champion]),
                    _variant(platform, rollout.model, rollout.challenger, weights[challenger])]
    current = platform.endpoints.describe(rollout.endpoint)
    wanted = {(v.variant_name, v.model_version) for v in variants}
    if current is not None and {(v.variant_name, v.model_version) for v in current.variants} == wanted:
        endpoint = platform.endpoints.update_weights(rollout.endpoint, {v.variant_name: v.weight for v in variants})
    else:
        endpoint = platform.endpoints.deploy(rollout.endpoint, variants)
    log.info("%s: step %d/%d, challenger v%d at %d %%", rollout.endpoint, rollout.step + 1, len(rollout.ramp),
             rollout.challenger, percent)
    return endpoint.to_dict()


def start(platform: Platform, rollout: Rollout) -> Rollout:
    """First step; on a retry the saved state wins so nothing starts over."""
    saved = load(platform, rollout.endpoint, rollout.rollout_id)
    if saved is not None:
        return saved
    apply_step(platform, rollout)
    rollout.step_started = _now().isoformat()
    rollout.history.append({"step": 0, "percent": rollout.ramp[0], "at": rollout.step_started})
    save(platform, rollout)
    return rollout


def bake(platform: Platform, spec: ModelSpec, rollout: Rollout, thresholds: CanaryThresholds,
         now: datetime | None = None) -> Rollout:
    """One look at the alarms of the current step: roll back, advance, promote, or keep baking."""
    if rollout.outcome != BAKING:
        return rollout
    now = now or _now()
    started = datetime.fromisoformat(rollout.step_started)
    platform.endpoints.flush()
    rollout.alarms = []
    if rollout.champion is not None:
        champion = variant_name(platform.registry.get(rollout.model, rollout.champion))
        challenger = variant_name(platform.registry.get(rollout.model, rollout.challenger))
        alarms = evaluate_alarms(platform, spec, rollout.endpoint, champion, challenger, started, now, thresholds)
        rollout.alarms = [a.to_dict() for a in alarms]
        if any(a.firing for a in alarms):
            rollout.outcome = ROLLBACK
            save(platform, rollout)
            return rollout
    # a step ends when its bake time is up and the alarms could judge it (enough traffic);
    # a bake time of 0 asks for no bake (e.g. the winner of an A/B test, judged on real users)
    judged = rollout.bake_minutes == 0 or not any(a.get("insufficient_data") for a in rollout.alarms)
    if now - started >= timedelta(minutes=rollout.bake_minutes) and judged:
        if rollout.step + 1 >= len(rollout.ramp):
            rollout.outcome = PROMOTE
        else:
            rollout.step += 1
            apply_step(platform, rollout)
            rollout.step_started = now.isoformat()
            rollout.history.append({"step": rollout.step, "percent": rollout.ramp[rollout.step],
                                    "at": rollout.step_started})
    save(platform, rollout)
    return rollout


def finish(platform: Platform, rollout: Rollout, run: str) -> dict:
    """Promote or roll back; both leave a single-variant endpoint and a registry record."""
    if rollout.outcome == PROMOTE:
        endpoint = platform.endpoints.deploy(rollout.endpoint, [_variant(platform, rollout.model, rollout.challenger, 1.0)])
        platform.registry.record_deployment(rollout.model, rollout.challenger, rollout.endpoint, "promoted",
                                            f"ramp {rollout.ramp}", run)
        return {"outcome": PROMOTE, "endpoint": endpoint.to_dict()}
    if rollout.outcome != ROLLBACK:
        raise EndpointError(f"rollout {rollout.rollout_id} of {rollout.endpoint} is still {rollout.outcome}")
    fired = [a for a in rollout.alarms if a["firing"]]
    note = "rolled back by canary alarm(s): " + "; ".join(
        f"{a['name']} on {a['variant']} = {a['value']} (threshold {a['threshold']})" for a in fired)
    endpoint = platform.endpoints.deploy(rollout.endpoint, [_variant(platform, rollout.model, rollout.champion, 1.0)])
    platform.registry.update_status(rollout.model, rollout.challenger, REJECTED, note)
    platform.registry.record_deployment(rollout.model, rollout.challenger, rollout.endpoint, "rolled_back", note, run)
    return {"outcome": ROLLBACK, "endpoint": endpoint.to_dict(), "note": note}
