"""A/B test analysis at the user level: fixed-horizon tests, sample-ratio mismatch, always-valid sequential
p-values and a decision, usable outside Airflow.

Why the user level: users are the randomisation unit, so each user contributes one value per metric and the
tests' independence assumption holds. A continuous metric takes the mean of the user's events; a binary one
takes their maximum, "converted at least once", so that every user is 0 or 1.

Per metric (difference = treatment − control):

* continuous: Welch's t-test and its t interval, equal to ``scipy.stats.ttest_ind(treatment, control,
  equal_var=False)`` and its ``confidence_interval(1 - alpha)``;
* binary: the two-sided two-proportion z-test with pooled variance, equal to statsmodels' ``proportions_ztest``,
  and the Wald interval (unpooled variance), equal to ``confint_proportions_2indep(method="wald")``;
* ``sequential_p_value``: the mSPRT of Johari et al., "Always valid inference", on the normal approximation of the
  difference with its estimated variance V (see ``_sequential_p_value``). It stays valid however often the test
  is looked at, which the fixed-horizon p-value does not; decisions therefore use it.

Multiple testing: success metrics form one Holm family. ``p_value_adjusted`` is the Holm-adjusted fixed-horizon
p-value; ``significant`` compares the Holm-adjusted sequential p-value with alpha. Guardrail metrics are outside
the family (``p_value_adjusted`` equals ``p_value``) and are significant when their sequential p-value is below alpha.

Decision, in order: ``stopped_srm`` when the users per arm do not match ``control_share`` (chi-square
goodness of fit, p < 0.001), since then the arms are not comparable; ``stopped_guardrail`` when a guardrail is
significantly worse; ``treatment_wins`` / ``control_wins`` when every significant success metric favours that arm;
otherwise ``inconclusive``. "Better" is a higher mean unless the metric says ``"direction": "lower_is_better"``.

Config (JSON)::

    {"control_share": 0.5, "alpha": 0.05,
     "success_metrics": {"converted": {"kind": "binary"}},
     "guardrail_metrics": {"latency_ms": {"kind": "continuous", "direction": "lower_is_better"}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats
from statsmodels.stats.multitest import multipletests

from findining_mlops.errors import DataValidationError

COLUMNS = ("user_id", "variant", "metric_name", "metric_value", "timestamp")
VARIANTS = ("control", "treatment")
KINDS = ("binary", "continuous")
DIRECTIONS = ("higher_is_better", "lower_is_better")
SRM_P_VALUE = 0.001
# mSPRT mixing distribution N(0, tau²) over the true difference, with tau = 0.1 per-user standard deviations:
# a prior on standardised effects sized like typical product effects, which is where mSPRT is most powerful;
# being relative to the metric's own spread makes it work for any unit.
MIXING_SD = 0.1


@dataclass(frozen=True)
class _Arm:
    """One arm's user-level summary; fields are scalars or, for simulations, arrays of the same shape."""

    users: np.ndarray
    mean: np.ndarray
    variance: np.ndarray  # per-user: sample variance (ddof=1) for continuous, p(1 - p) for binary


def _binary_arm(users, conversions) -> _Arm:
    share = np.asarray(conversions, dtype=float) / users
    return _Arm(np.asarray(users), share, share * (1 - share))


@dataclass(frozen=True)
class _Comparison:
    difference: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    sequential_p_value: np.ndarray


def _compare(kind: str, control: _Arm, treatment: _Arm, alpha: float) -> _Comparison:
    """Fixed-horizon test, interval and sequential p-value of treatment − control, vectorised over arrays."""
    difference = treatment.mean - control.mean
    control_var = control.variance / control.users
    treatment_var = treatment.variance / treatment.users
    variance = control_var + treatment_var  # unpooled: Welch's and Wald's standard error, and mSPRT's V
    se = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "continuous":
            df = variance**2 / (control_var**2 / (control.users - 1) + treatment_var**2 / (treatment.users - 1))
            test_se = se
            p_value = 2 * special.stdtr(df, -np.abs(difference) / se)
            half_width = special.stdtrit(df, 1 - alpha / 2) * se
        else:
            users = control.users + treatment.users
            pooled = (control.mean * control.users + treatment.mean * treatment.users) / users
            test_se = np.sqrt(pooled * (1 - pooled) * (1 / control.users + 1 / treatment.users))
            p_value = 2 * stats.norm.sf(np.abs(difference) / test_se)
            half_width = stats.norm.isf(alpha / 2) * se
    # no spread (e.g. nobody converted yet): the difference is exact, where the formulas divide 0 by 0
    exact = np.where(difference == 0, 1.0, 0.0)
    sequential = _sequential_p_value(difference, variance, (control.variance + treatment.variance) / 2)
    half_width = np.where(se == 0, 0.0, half_width)
    return _Comparison(difference, difference - half_width, difference + half_width,
                       np.where(test_se == 0, exact, p_value), np.where(se == 0, exact, sequential))


def _sequential_p_value(difference, variance, user_variance):
    """Always-valid p-value of "difference is 0" by the mixture SPRT with a N(0, tau²) mixing distribution.

    With the estimate D ~ N(delta, V), the mixture likelihood ratio of delta ~ N(0, tau²) against delta = 0 is
    sqrt(V / (V + tau²)) * exp(tau² D² / (2 V (V + tau²))) (Johari et al.'s normal mixture), and 1 / ratio,
    capped at 1, is a p-value valid at any stopping time. tau² = (MIXING_SD)² times the mean per-user variance.
    """
    tau2 = MIXING_SD**2 * user_variance
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = (0.5 * np.log(variance / (variance + tau2))
                     + tau2 * difference**2 / (2 * variance * (variance + tau2)))
    return np.minimum(1.0, np.exp(-log_ratio))


def load_config(path: str | Path) -> dict:
    """The test's config from a JSON file, validated and with defaults filled in."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"config file {path} does not exist")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataValidationError(f"config file {path} is not valid JSON: {exc}") from exc
    return _validated_config(config)


def _validated_config(config: dict) -> dict:
    if not isinstance(config, dict):
        raise DataValidationError("the config must be a JSON object")
    checked = {}
    for key in ("alpha", "control_share"):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise DataValidationError(f"config {key} must be a number strictly between 0 and 1, got {value!r}")
        checked[key] = float(value)
    if not config.get("success_metrics"):
        raise DataValidationError("the config lists no success_metrics; an A/B test needs at least one")
    for role in ("success_metrics", "guardrail_metrics"):
        metrics = config.get(role) or {}
        if not isinstance(metrics, dict):
            raise DataValidationError(f"config {role} must map metric names to {{\"kind\": ...}}")
        checked[role] = {name: _validated_metric(role, name, spec) for name, spec in metrics.items()}
    both = sorted(set(checked["success_metrics"]) & set(checked["guardrail_metrics"]))
    if both:
        raise DataValidationError(f"metrics {both} are both success and guardrail metrics")
    return checked


def _validated_metric(role: str, name: str, spec) -> dict:
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in KINDS:
        raise DataValidationError(f"{role} {name!r} needs kind 'binary' or 'continuous', got {kind!r}")
    direction = spec.get("direction", "higher_is_better")
    if direction not in DIRECTIONS:
        raise DataValidationError(f"{role} {name!r} has direction {direction!r}; use one of {list(DIRECTIONS)}")
    return {"kind": kind, "direction": direction}


def analyze(events: pd.DataFrame, config: dict) -> dict:
    """The analysis of the events so far: SRM check, per-metric results and the decision, as plain JSON types."""
    config = _validated_config(config)
    metrics = {**config["success_metrics"], **config["guardrail_metrics"]}
    events = _validated_events(events, metrics)
    alpha = config["alpha"]

    srm = _srm(events, config["control_share"])
    results = {name: _metric_result(events, name, spec["kind"], alpha) for name, spec in metrics.items()}
    success = list(config["success_metrics"])
    fixed_adjusted = multipletests([results[n]["p_value"] for n in success], method="holm")[1]
    sequential_adjusted = multipletests([results[n]["sequential_p_value"] for n in success], method="holm")[1]
    for name, fixed, sequential in zip(success, fixed_adjusted, sequential_adjusted):
        results[name]["p_value_adjusted"] = float(fixed)
        results[name]["significant"] = bool(sequential < alpha)
    for name in config["guardrail_metrics"]:
        results[name]["p_value_adjusted"] = results[name]["p_value"]
        results[name]["significant"] = results[name]["sequential_p_value"] < alpha

    def better(name: str) -> str:
        improved = results[name]["difference"] > 0
        return "treatment" if improved == (metrics[name]["direction"] == "higher_is_better") else "control"

    winners = {better(name) for name in success if results[name]["significant"]}
    if srm["mismatch"]:
        decision = "stopped_srm"
    elif any(results[n]["significant"] and better(n) == "control" for n in config["guardrail_metrics"]):
        decision = "stopped_guardrail"
    elif len(winners) == 1:
        decision = f"{winners.pop()}_wins"
    else:
        decision = "inconclusive"
    return {"srm": srm, "metrics": results, "decision": decision}


def _validated_events(events: pd.DataFrame, metrics: dict[str, dict]) -> pd.DataFrame:
    """The configured metrics' rows with a float metric_value, or an error that names what breaks the contract."""
    missing = [c for c in COLUMNS if c not in events.columns]
    if missing:
        raise DataValidationError(f"events lack the columns {missing}")
    unknown = sorted({str(v) for v in events["variant"].unique()} - set(VARIANTS))
    if unknown:
        raise DataValidationError(f"events have variant values other than 'control' and 'treatment': {unknown}")
    absent = sorted(set(metrics) - set(events["metric_name"]))
    if absent:
        raise DataValidationError(f"metrics {absent} are in the config but not in the events")
    arms_per_user = events.groupby("user_id")["variant"].nunique()
    in_both = arms_per_user.index[arms_per_user > 1]
    if len(in_both):
        raise DataValidationError(f"{len(in_both)} users appear in both variants, e.g. {in_both[0]!r}")

    events = events[events["metric_name"].isin(list(metrics))].copy()
    events["metric_value"] = pd.to_numeric(events["metric_value"], errors="coerce").astype(float)
    bad = events.loc[~np.isfinite(events["metric_value"]), "metric_name"].value_counts()
    if not bad.empty:
        raise DataValidationError("metric_value is not a finite number in "
                                  + ", ".join(f"{count} rows of metric {name!r}" for name, count in bad.items()))
    for name, spec in metrics.items():
        values = events.loc[events["metric_name"] == name, "metric_value"]
        others = values[~values.isin([0.0, 1.0])]
        if spec["kind"] == "binary" and not others.empty:
            raise DataValidationError(f"binary metric {name!r} has values other than 0 and 1 in {len(others)} rows, "
                                      f"e.g. {sorted(others.unique().tolist())[:5]}")
    return events


def _srm(events: pd.DataFrame, control_share: float) -> dict:
    """Chi-square goodness of fit of the distinct users per arm against the planned split."""
    users = events.groupby("variant")["user_id"].nunique().reindex(list(VARIANTS), fill_value=0).to_numpy()
    expected = users.sum() * np.array([control_share, 1 - control_share])
    p_value = float(stats.chisquare(users, expected).pvalue)
    return {"p_value": p_value, "mismatch": p_value < SRM_P_VALUE}


def _metric_result(events: pd.DataFrame, name: str, kind: str, alpha: float) -> dict:
    rows = events[events["metric_name"] == name]
    per_user = rows.groupby(["variant", "user_id"])["metric_value"].agg("max" if kind == "binary" else "mean")
    arm_stats = per_user.groupby(level="variant").agg(["count", "mean", "var", "sum"])
    thin = [v for v in VARIANTS if v not in arm_stats.index or arm_stats.at[v, "count"] < 2]
    if thin:
        raise DataValidationError(f"metric {name!r} needs at least 2 users per arm; too few in {thin}")
    arms = {
        v: _binary_arm(arm_stats.at[v, "count"], arm_stats.at[v, "sum"]) if kind == "binary"
        else _Arm(arm_stats.at[v, "count"], arm_stats.at[v, "mean"], arm_stats.at[v, "var"])
        for v in VARIANTS
    }
    result = _compare(kind, arms["control"], arms["treatment"], alpha)
    control_mean = float(arms["control"].mean)
    return {
        **{v: {"users": int(arms[v].users), "mean": float(arms[v].mean)} for v in VARIANTS},
        "difference": float(result.difference),
        "relative_lift": float(result.difference) / control_mean if control_mean else None,
        "ci_low": float(result.ci_low),
        "ci_high": float(result.ci_high),
        "p_value": float(result.p_value),
        "sequential_p_value": float(result.sequential_p_value),
    }
