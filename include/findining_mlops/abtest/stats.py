"""A/B test analysis at the user level: fixed-horizon tests, sample-ratio mismatch, always-valid sequential
p-values, optional CUPED and a decision, usable outside Airflow.

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

CUPED (Deng et al., 2013), optional per continuous metric: ``"covariate": NAME`` names another ``metric_name`` in
the events, measured before the test (e.g. ``pre_user_satisfaction``); each user's mean of it is their X, and
users without it get the mean X of those who have it, so they are left unadjusted. The user values Y become
Y − θ(X − mean X) with θ = cov(X, Y) / var(X) over both arms pooled, before all the tests above. Since X was fixed
before randomisation, mean X is the same in both arms in expectation: the difference stays unbiased, while the
part of Y's variance that X explains, ρ², leaves the standard error. The arms' ``mean`` are then the adjusted
means, and the metric reports ``"cuped": {"covariate", "theta", "variance_reduction"}`` with
variance_reduction = 1 − var(Y_adj) / var(Y). A covariate is not a success or guardrail metric itself, and its
events do not count towards the sample-ratio check (pre-period users need not be in the test).

Multiple testing: success metrics form one Holm family. ``p_value_adjusted`` is the Holm-adjusted fixed-horizon
p-value; ``significant`` compares the Holm-adjusted sequential p-value with alpha. Guardrail metrics are outside
the family (``p_value_adjusted`` equals ``p_value``) and are significant when their sequential p-value is below alpha.

Decision, in order: ``stopped_srm`` when the users per arm do not match ``control_share`` (chi-square
goodness of fit, p < 0.001), since then the arms are not comparable; ``stopped_guardrail`` when a guardrail is
significantly worse; ``treatment_wins`` / ``control_wins`` when every significant success metric favours that arm;
otherwise ``inconclusive``. "Better" is a higher mean unless the metric says ``"direction": "lower_is_better"``.

Config (JSON)::

    {"control_share": 0.5, "alpha": 0.05,
     "success_metrics": {"converted": {"kind": "binary"},
                         "satisfaction": {"kind": "continuous", "covariate": "pre_satisfaction"}},
     "guardrail_metrics": {"latency_ms": {"kind": "continuous", "direction": "lower_is_better"}}}

Scale: the events are reduced in SQL (``findining_mlops.abtest.queries``, run by DuckDB or Athena) to one value per user
per metric and then to a few sums per arm: n, sum and sum of squares, and for CUPED the moments of X and X·Y. Every
figure below is a closed form of those sums, so the statistics cost the same for a hundred events or a hundred
million. This module is the statistics on those sums (``analyze_moments``) and reads no events:
``findining_mlops.abtest.analysis`` runs the SQL on a frame or on parquet files, the daily analysis on the test's
partitions (``findining_mlops.abtest.engine``). ``make bench`` compares it with a hand-written DuckDB query and with
pandas + scipy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict, cast

import numpy as np
from scipy import special, stats

from findining_mlops.errors import DataValidationError
from findining_mlops.platform.records import AnalysisConfig

if TYPE_CHECKING:
    from findining_mlops.abtest.queries import MetricMoments, Moments

VARIANTS = ("control", "treatment")
KINDS = ("binary", "continuous")
DIRECTIONS = ("higher_is_better", "lower_is_better")
SRM_P_VALUE = 0.001
# mSPRT mixing distribution N(0, tau²) over the true difference, with tau = 0.1 per-user standard deviations:
# a prior on standardised effects sized like typical product effects, which is where mSPRT is most powerful;
# being relative to the metric's own spread makes it work for any unit.
MIXING_SD = 0.1
# a spread below this share of the mean square is rounding noise of the sums, not variation between users
RELATIVE_SPREAD_FLOOR = 1e-12


class SrmCheck(TypedDict):
    p_value: float
    mismatch: bool  # p_value below SRM_P_VALUE: the split is not the planned one


class ArmSummary(TypedDict):
    users: int
    mean: float


class CupedFigures(TypedDict):
    covariate: str
    theta: float
    variance_reduction: float


class MetricResult(TypedDict):
    """One metric's comparison of the arms, as analysis.json and the reports show it."""

    control: ArmSummary
    treatment: ArmSummary
    difference: float
    relative_lift: float | None
    ci_low: float
    ci_high: float
    p_value: float
    sequential_p_value: float
    cuped: NotRequired[CupedFigures]
    p_value_adjusted: NotRequired[float]  # added once every metric is compared
    significant: NotRequired[bool]


class Analysis(TypedDict):
    """``analyze_moments``' result: the SRM check, each metric's result by name and the decision."""

    srm: SrmCheck
    metrics: dict[str, MetricResult]
    decision: str


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


def load_config(path: str | Path) -> AnalysisConfig:
    """The test's config from a JSON file, validated and with defaults filled in."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"config file {path} does not exist")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataValidationError(f"config file {path} is not valid JSON: {exc}") from exc
    return validated_config(config)


def validated_config(config: dict) -> AnalysisConfig:
    """The config with its defaults filled in; a config the analysis cannot use fails here, naming what is wrong."""
    if not isinstance(config, dict):
        raise DataValidationError("the config must be a JSON object")
    checked = {key: _share(config, key) for key in ("alpha", "control_share")}
    if not config.get("success_metrics"):
        raise DataValidationError("the config lists no success_metrics; an A/B test needs at least one")
    for role in ("success_metrics", "guardrail_metrics"):
        metrics = config.get(role) or {}
        if not isinstance(metrics, dict):
            raise DataValidationError(f"config {role} must map metric names to {{\"kind\": ...}}")
        checked[role] = {name: _validated_metric(role, name, spec) for name, spec in metrics.items()}
    _check_roles(checked["success_metrics"], checked["guardrail_metrics"])
    return cast(AnalysisConfig, checked)


def _share(config: dict, key: str) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise DataValidationError(f"config {key} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _check_roles(success: dict, guardrails: dict) -> None:
    """A metric is a success metric, a guardrail or a covariate: one role each."""
    both = sorted(set(success) & set(guardrails))
    if both:
        raise DataValidationError(f"metrics {both} are both success and guardrail metrics")
    metrics = {**success, **guardrails}
    tested_covariates = sorted({spec["covariate"] for spec in metrics.values() if "covariate" in spec} & set(metrics))
    if tested_covariates:
        raise DataValidationError(f"metrics {tested_covariates} are CUPED covariates, measured before the test, "
                                  "and cannot also be success or guardrail metrics")


def _validated_metric(role: str, name: str, spec) -> dict:
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in KINDS:
        raise DataValidationError(f"{role} {name!r} needs kind 'binary' or 'continuous', got {kind!r}")
    direction = spec.get("direction", "higher_is_better")
    if direction not in DIRECTIONS:
        raise DataValidationError(f"{role} {name!r} has direction {direction!r}; use one of {list(DIRECTIONS)}")
    checked = {"kind": kind, "direction": direction}
    if "covariate" in spec:
        covariate = spec["covariate"]
        if not isinstance(covariate, str) or not covariate:
            raise DataValidationError(f"{role} {name!r} has covariate {covariate!r}; name a metric_name of the events")
        if kind != "continuous":
            # adjusted values are no longer 0 or 1, so the two-proportion test would not apply to them
            raise DataValidationError(f"{role} {name!r} is binary; a CUPED covariate is only for continuous metrics")
        checked["covariate"] = covariate
    return checked


def analyze_moments(moments: Moments, config: dict) -> Analysis:
    """The analysis from the per-arm moments (``engine.arm_moments``): SRM check, per-metric results and the
    decision, as plain JSON types."""
    config = validated_config(config)
    metrics = {**config["success_metrics"], **config["guardrail_metrics"]}
    _check_measured(moments, metrics)
    srm = _srm([moments[v]["in_test"] for v in VARIANTS], config["control_share"])
    results = {name: _metric_result({v: moments[v]["metrics"][name] for v in VARIANTS}, name, spec, config["alpha"])
               for name, spec in metrics.items()}
    _mark_significant(results, config)
    return {"srm": srm, "metrics": results, "decision": _decision(srm, results, config)}


def _check_measured(moments: Moments, metrics: dict) -> None:
    """Every configured metric, and every CUPED covariate, has users in the events."""
    users_of = {name: sum(moments[v]["metrics"][name]["users"] for v in VARIANTS)
                for name in moments["control"]["metrics"]}
    absent = sorted(name for name in metrics if not users_of[name])
    if absent:
        raise DataValidationError(f"metrics {absent} are in the config but not in the events")
    for name, spec in metrics.items():
        if "covariate" in spec and not users_of[spec["covariate"]]:
            raise DataValidationError(f"covariate {spec['covariate']!r} of metric {name!r} is not a metric_name in "
                                      "the events")


def _mark_significant(results: dict[str, MetricResult], config: AnalysisConfig) -> None:
    """Adds ``p_value_adjusted`` and ``significant``: Holm across the success metrics, guardrails on their own."""
    alpha = config["alpha"]
    success = list(config["success_metrics"])
    fixed_adjusted = _holm([results[n]["p_value"] for n in success])
    sequential_adjusted = _holm([results[n]["sequential_p_value"] for n in success])
    for name, fixed, sequential in zip(success, fixed_adjusted, sequential_adjusted, strict=False):
        results[name]["p_value_adjusted"] = float(fixed)
        results[name]["significant"] = bool(sequential < alpha)
    for name in config["guardrail_metrics"]:
        results[name]["p_value_adjusted"] = results[name]["p_value"]
        results[name]["significant"] = results[name]["sequential_p_value"] < alpha


def _decision(srm: SrmCheck, results: dict[str, MetricResult], config: AnalysisConfig) -> str:
    """The module docstring's decision order: SRM, then a worse guardrail, then one winning arm."""
    metrics = {**config["success_metrics"], **config["guardrail_metrics"]}

    def better(name: str) -> str:
        improved = results[name]["difference"] > 0
        return "treatment" if improved == (metrics[name]["direction"] == "higher_is_better") else "control"

    if srm["mismatch"]:
        return "stopped_srm"
    if any(results[n]["significant"] and better(n) == "control" for n in config["guardrail_metrics"]):
        return "stopped_guardrail"
    winners = {better(name) for name in config["success_metrics"] if results[name]["significant"]}
    return f"{winners.pop()}_wins" if len(winners) == 1 else "inconclusive"


def _holm(p_values: list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, as statsmodels' ``multipletests(method="holm")`` computes them, without
    the full garbage collection that it runs on every call (a noticeable pause with millions of events in memory)."""
    p_values = np.asarray(p_values, dtype=float)
    order = np.argsort(p_values)
    stepped = np.maximum.accumulate((len(p_values) - np.arange(len(p_values))) * p_values[order])
    adjusted = np.empty_like(p_values)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _srm(users_per_arm: list[int], control_share: float) -> SrmCheck:
    """Chi-square goodness of fit of the distinct users per arm against the planned split."""
    observed = np.array(users_per_arm)
    expected = observed.sum() * np.array([control_share, 1 - control_share])
    p_value = float(stats.chisquare(observed, expected).pvalue)
    return {"p_value": p_value, "mismatch": p_value < SRM_P_VALUE}


def _cuped(arms: dict[str, MetricMoments]) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """Per arm, the sum and sum of squares of Y − θ(X − mean X) over both arms pooled, and the figures that
    describe the adjustment, in closed form from the arms' moments of X, Y and X·Y.

    Users without X take the mean X of the metric's users who have it, so their X − mean X adds nothing."""
    with_x = sum(a["cuped"]["users"] for a in arms.values())
    x_fill = sum(a["cuped"]["sum"] for a in arms.values()) / with_x if with_x else 0.0
    sums = {}
    for variant, arm in arms.items():
        cov, without_x = arm["cuped"], arm["users"] - arm["cuped"]["users"]
        sums[variant] = {"n": arm["users"], "y": arm["sum"], "yy": arm["squares"],
                         "x": cov["sum"] + without_x * x_fill, "xx": cov["squares"] + without_x * x_fill**2,
                         "xy": cov["products"] + x_fill * (arm["sum"] - cov["metric_sum"])}
    total = {field: sum(s[field] for s in sums.values()) for field in ("n", "y", "yy", "x", "xx", "xy")}
    x_mean, y_mean = total["x"] / total["n"], total["y"] / total["n"]
    spread = total["xx"] - total["n"] * x_mean**2
    covariance = total["xy"] - total["n"] * x_mean * y_mean
    # a constant X explains nothing
    theta = covariance / spread if spread > RELATIVE_SPREAD_FLOOR * total["xx"] else 0.0
    adjusted = {}
    for variant, s in sums.items():
        centred_x = s["x"] - s["n"] * x_mean
        adjusted[variant] = (s["y"] - theta * centred_x,
                             s["yy"] - 2 * theta * (s["xy"] - x_mean * s["y"])
                             + theta**2 * (s["xx"] - 2 * x_mean * s["x"] + s["n"] * x_mean**2))
    y_variance = total["yy"] / total["n"] - y_mean**2
    adjusted_mean = sum(a[0] for a in adjusted.values()) / total["n"]
    adjusted_variance = sum(a[1] for a in adjusted.values()) / total["n"] - adjusted_mean**2
    reduction = 1 - adjusted_variance / y_variance if y_variance > 0 else 0.0
    return adjusted, {"theta": float(theta), "variance_reduction": float(reduction)}


def _continuous_arm(n: int, total: float, squares: float) -> _Arm:
    """Mean and sample variance (ddof=1) from n, the sum and the sum of squares."""
    mean = total / n
    spread = squares - total * mean
    if spread <= RELATIVE_SPREAD_FLOOR * squares:
        spread = 0.0  # equal values: the sums' rounding must not pass for a tiny spread
    return _Arm(np.asarray(n), np.asarray(mean), np.asarray(spread / (n - 1)))


def _metric_result(arms: dict[str, MetricMoments], name: str, spec: dict, alpha: float) -> MetricResult:
    thin = [v for v in VARIANTS if arms[v]["users"] < 2]
    if thin:
        raise DataValidationError(f"metric {name!r} needs at least 2 users per arm; too few in {thin}")
    sums = {v: (arms[v]["sum"], arms[v]["squares"]) for v in VARIANTS}
    cuped: CupedFigures | None = None
    if "covariate" in spec:
        sums, figures = _cuped(arms)
        cuped = {"covariate": spec["covariate"], "theta": figures["theta"],
                 "variance_reduction": figures["variance_reduction"]}

    summary = {v: (_binary_arm(arms[v]["users"], sums[v][0]) if spec["kind"] == "binary"
                   else _continuous_arm(arms[v]["users"], *sums[v])) for v in VARIANTS}
    result = _compare(spec["kind"], summary["control"], summary["treatment"], alpha)
    control_mean = float(summary["control"].mean)
    return {
        **{v: {"users": int(summary[v].users), "mean": float(summary[v].mean)} for v in VARIANTS},
        "difference": float(result.difference),
        "relative_lift": float(result.difference) / control_mean if control_mean else None,
        "ci_low": float(result.ci_low),
        "ci_high": float(result.ci_high),
        "p_value": float(result.p_value),
        "sequential_p_value": float(result.sequential_p_value),
        **({"cuped": cuped} if cuped else {}),
    }
