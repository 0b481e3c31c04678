"""The quality gate: the policy that approves or rejects a new version from its evaluation, for a retrained
version and an uploaded one alike."""

from __future__ import annotations

from typing import TypedDict

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.platform.ports import APPROVED, REJECTED
from findining_mlops.training.evaluate import ChampionFigures, Evaluation


class GateCheck(TypedDict):
    check: str  # what was required, with its figures
    value: float | None
    passed: bool


class GateResult(TypedDict):
    """The gate's verdict with every check, as the version's lineage and the upload check keep it."""

    approved: bool
    status: str  # Approved / Rejected
    checks: list[GateCheck]


class GatedEvaluation(Evaluation):
    """An evaluation with the gate's verdict: what the retraining DAG's evaluate task hands to its register task."""

    gate: GateResult


def _champion_name(champion: ChampionFigures) -> str:
    """``v3 (1.1.0)``; ``v3`` for an evaluation stored before versions had labels."""
    return champion.get("display") or f"v{champion['version']}"


def quality_gate(spec: ModelSpec, evaluation: Evaluation) -> GateResult:
    """Approve when the primary metric reaches the minimum and does not regress against
    the champion by more than the allowed margin; every check is recorded with figures."""
    metric = spec.primary_metric
    value = evaluation["challenger"].get(metric)
    checks: list[GateCheck] = [
        {
            "check": f"{metric} >= {spec.min_primary_metric}",
            "value": value,
            "passed": value is not None and value == value and value >= spec.min_primary_metric,
        }
    ]
    champion = evaluation.get("champion")
    if champion:
        best = champion["metrics"][metric]
        checks.append(
            {
                "check": f"{metric} >= champion {_champion_name(champion)} ({best:.4f}) - "
                         f"{spec.max_regression}",
                "value": value,
                "passed": value is not None and value >= best - spec.max_regression,
            }
        )
    approved = all(c["passed"] for c in checks)
    return {"approved": approved, "status": APPROVED if approved else REJECTED, "checks": checks}


def gated_evaluation(spec: ModelSpec, evaluation: Evaluation) -> GatedEvaluation:
    """The evaluation and the gate's verdict on it."""
    return {**evaluation, "gate": quality_gate(spec, evaluation)}


def gate_summary(gate: GateResult) -> str:
    """The failed checks of a gate, with their figures: why a version was rejected."""
    failed = [f"{c['check']} failed with {c['value']:.4f}" if isinstance(c["value"], float)
              else f"{c['check']} failed with {c['value']}" for c in gate["checks"] if not c["passed"]]
    return "; ".join(failed) or "every check passed"
