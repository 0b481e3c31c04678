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

Speed: the daily analysis reads every event of a test, tens of millions for a large one, and the cost is
dominated by hashing the string columns. So each of ``user_id``, ``variant`` and ``metric_name`` is factorized
exactly once (see ``_factorize`` for why that is cheap on frames read from parquet), and everything after that
(validation, the both-arms check, the per-user aggregation of every metric at once) is integer arithmetic with
``np.bincount`` on the codes, without copying or filtering the frame. ``make bench`` measures it against the
plain pandas + scipy/statsmodels computation at ten million events.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

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
# rows that ``_factorize`` looks at to see whether equal values share one object
SHARING_SAMPLE = 10_000


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
    metrics = {**checked["success_metrics"], **checked["guardrail_metrics"]}
    tested_covariates = sorted({spec["covariate"] for spec in metrics.values() if "covariate" in spec} & set(metrics))
    if tested_covariates:
        raise DataValidationError(f"metrics {tested_covariates} are CUPED covariates, measured before the test, "
                                  "and cannot also be success or guardrail metrics")
    return checked


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


def analyze(events: pd.DataFrame, config: dict) -> dict:
    """The analysis of the events so far: SRM check, per-metric results and the decision, as plain JSON types."""
    config = _validated_config(config)
    metrics = {**config["success_metrics"], **config["guardrail_metrics"]}
    users = _user_table(events, metrics)
    alpha = config["alpha"]

    srm = _srm(users, config["control_share"])
    results = {name: _metric_result(users, name, spec, alpha) for name, spec in metrics.items()}
    success = list(config["success_metrics"])
    fixed_adjusted = _holm([results[n]["p_value"] for n in success])
    sequential_adjusted = _holm([results[n]["sequential_p_value"] for n in success])
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


@dataclass(frozen=True)
class _UserTable:
    """The validated events reduced to one entry per user, indexed by the user_id's factorized code."""

    treatment: np.ndarray  # bool: the user is in the treatment arm
    in_test: np.ndarray  # bool: the user has events of a success or guardrail metric, the SRM population
    has: dict[str, np.ndarray]  # metric or covariate -> bool: the user has events of it
    value: dict[str, np.ndarray]  # metric or covariate -> mean of the user's events (binary: max); 0 where not has


def _user_table(events: pd.DataFrame, metrics: dict[str, dict]) -> _UserTable:
    """The per-user table of the configured metrics and covariates, or an error that names what breaks the
    contract. Each string column is factorized once; every later step is arithmetic on the integer codes."""
    missing = [c for c in COLUMNS if c not in events.columns]
    if missing:
        raise DataValidationError(f"events lack the columns {missing}")
    row_variant = _row_codes(events["variant"], VARIANTS)  # 0 control, 1 treatment, 2 anything else
    if (row_variant == len(VARIANTS)).any():
        unknown = sorted({str(v) for v in events["variant"][row_variant == len(VARIANTS)].unique()})
        raise DataValidationError(f"events have variant values other than 'control' and 'treatment': {unknown}")

    covariates = {spec["covariate"]: name for name, spec in metrics.items() if "covariate" in spec}
    wanted = [*metrics, *(c for c in covariates if c not in metrics)]
    row_metric = _row_codes(events["metric_name"], wanted)  # len(wanted) for other metrics' rows, ignored below
    rows_of = dict(zip(wanted, np.bincount(row_metric, minlength=len(wanted))))
    absent = sorted(name for name in metrics if not rows_of[name])
    if absent:
        raise DataValidationError(f"metrics {absent} are in the config but not in the events")
    for covariate, name in covariates.items():
        if not rows_of[covariate]:
            raise DataValidationError(f"covariate {covariate!r} of metric {name!r} is not a metric_name in the events")

    user_codes, user_ids = _factorize(events["user_id"])
    if (user_codes < 0).any():
        raise DataValidationError(f"{int((user_codes < 0).sum())} events have no user_id")
    n_users = len(user_ids)
    # one cell per (metric, user, arm): a single pass counts and sums every metric of every user at once
    cell = (row_metric * n_users + user_codes) * 2 + row_variant
    del user_codes, row_variant
    shape = (len(wanted) + 1, n_users, 2)  # the last metric block collects the ignored metrics' rows
    counts = np.bincount(cell, minlength=np.prod(shape)).reshape(shape)
    arm_events = counts.sum(axis=0)
    in_both = np.flatnonzero((arm_events > 0).all(axis=1))
    if len(in_both):
        raise DataValidationError(f"{len(in_both)} users appear in both variants, e.g. {user_ids[in_both[0]]!r}")

    values = pd.to_numeric(events["metric_value"], errors="coerce")
    values = values.to_numpy() if values.dtype == np.float64 else values.to_numpy(dtype=float, na_value=np.nan)
    wanted_rows = row_metric < len(wanted)
    bad = wanted_rows & ~np.isfinite(values)
    if bad.any():
        per_metric = np.bincount(row_metric[bad], minlength=len(wanted))
        raise DataValidationError("metric_value is not a finite number in " + ", ".join(
            f"{per_metric[k]} rows of metric {wanted[k]!r}" for k in np.argsort(-per_metric, kind="stable")
            if per_metric[k]))
    for k, name in enumerate(wanted):
        if metrics.get(name, {}).get("kind") == "binary":
            others = values[(row_metric == k) & (values != 0.0) & (values != 1.0)]
            if len(others):
                raise DataValidationError(f"binary metric {name!r} has values other than 0 and 1 in {len(others)} "
                                          f"rows, e.g. {np.unique(others)[:5].tolist()}")
    del row_metric, wanted_rows
    # the ignored rows' values may be anything, even NaN, but they only reach the last block, which is not read
    sums = np.bincount(cell, weights=values, minlength=np.prod(shape)).reshape(shape)

    has, value = {}, {}
    for k, name in enumerate(wanted):
        user_events, user_sum = counts[k].sum(axis=1), sums[k].sum(axis=1)  # each user has one arm's column
        has[name] = user_events > 0
        binary = metrics.get(name, {}).get("kind") == "binary"
        value[name] = (user_sum > 0).astype(float) if binary else user_sum / np.maximum(user_events, 1)
    in_test = (counts[: len(metrics)] > 0).any(axis=(0, 2))
    return _UserTable(arm_events[:, 1] > 0, in_test, has, value)


def _factorize(column: pd.Series) -> tuple[np.ndarray, pd.Index | np.ndarray]:
    """The codes and uniques of ``pd.factorize(column)``, about three times faster on object columns read from
    parquet.

    Hashing ten million string ids is most of an analysis's time, and it is slow because every row costs cache
    misses on its string object and on the table. But pyarrow hands out equal strings as one shared object
    (``to_pandas(deduplicate_objects=True)``, its default), so a million users' ids are only a million objects.
    Factorizing the objects' addresses, plain integers that an object array stores anyway, and then only the
    distinct objects' values gives the same codes at a fraction of the cost; distinct objects with equal values
    are merged by that second step, so the codes are exact either way. Where equal values are not shared (a frame
    built from Python records), the detour would cost twice the direct hashing, so a look at the first rows
    decides: the detour is taken only where no value there is held by two objects.
    """
    if column.dtype != object:
        return pd.factorize(column)
    objects = np.ascontiguousarray(column.to_numpy())
    # the array's PyObject pointers read as integers; ``objects`` keeps every object alive, so each address is
    # one object's for the whole call
    addresses = np.ctypeslib.as_array(ctypes.cast(objects.ctypes.data, ctypes.POINTER(ctypes.c_size_t)),
                                      shape=objects.shape)
    head = slice(0, SHARING_SAMPLE)
    if len(pd.unique(addresses[head])) > len(pd.unique(objects[head])):
        return pd.factorize(objects)
    object_codes, distinct = pd.factorize(addresses)
    row_of = np.empty(len(distinct), dtype=np.intp)
    row_of[object_codes] = np.arange(len(objects))  # a row holding each object; any one will do
    value_codes, uniques = pd.factorize(objects[row_of])  # objects in order of first appearance, as pd.factorize
    return value_codes[object_codes], uniques


def _row_codes(column: pd.Series, names: Sequence[str]) -> np.ndarray:
    """Each row's index in ``names``, or ``len(names)`` for any other value, a missing one included."""
    codes, uniques = _factorize(column)
    position = {name: k for k, name in enumerate(names)}
    lookup = np.array([position.get(value, len(names)) for value in uniques] + [len(names)], dtype=np.int64)
    return lookup[codes]  # a missing value's code, -1, takes the last entry


def _holm(p_values: list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, as statsmodels' ``multipletests(method="holm")`` computes them, without
    the full garbage collection that it runs on every call (a noticeable pause with millions of events in memory)."""
    p_values = np.asarray(p_values, dtype=float)
    order = np.argsort(p_values)
    stepped = np.maximum.accumulate((len(p_values) - np.arange(len(p_values))) * p_values[order])
    adjusted = np.empty_like(p_values)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _srm(users: _UserTable, control_share: float) -> dict:
    """Chi-square goodness of fit of the distinct users per arm against the planned split."""
    treated = int(users.treatment[users.in_test].sum())
    observed = np.array([int(users.in_test.sum()) - treated, treated])
    expected = observed.sum() * np.array([control_share, 1 - control_share])
    p_value = float(stats.chisquare(observed, expected).pvalue)
    return {"p_value": p_value, "mismatch": p_value < SRM_P_VALUE}


def _cuped(y: np.ndarray, x: np.ndarray, has_x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Y − θ(X − mean X) over both arms pooled, and the figures that describe the adjustment."""
    x = np.where(has_x, x, x[has_x].mean() if has_x.any() else 0.0)
    x_centred = x - x.mean()
    spread = x_centred @ x_centred
    theta = float(x_centred @ (y - y.mean()) / spread) if spread > 0 else 0.0  # a constant X explains nothing
    adjusted = y - theta * x_centred
    y_variance = y.var()
    reduction = float(1 - adjusted.var() / y_variance) if y_variance > 0 else 0.0
    return adjusted, {"theta": theta, "variance_reduction": reduction}


def _metric_result(users: _UserTable, name: str, spec: dict, alpha: float) -> dict:
    has = users.has[name]
    treated, values = users.treatment[has], users.value[name][has]
    thin = [v for v, n in zip(VARIANTS, (len(treated) - treated.sum(), treated.sum())) if n < 2]
    if thin:
        raise DataValidationError(f"metric {name!r} needs at least 2 users per arm; too few in {thin}")
    cuped = None
    if "covariate" in spec:
        covariate = spec["covariate"]
        values, figures = _cuped(values, users.value[covariate][has], users.has[covariate][has])
        cuped = {"covariate": covariate, **figures}

    arms = {}
    for variant, arm_values in (("control", values[~treated]), ("treatment", values[treated])):
        n = len(arm_values)
        arms[variant] = (_binary_arm(n, arm_values.sum()) if spec["kind"] == "binary"
                         else _Arm(np.asarray(n), arm_values.mean(), arm_values.var(ddof=1)))
    result = _compare(spec["kind"], arms["control"], arms["treatment"], alpha)
    control_mean = float(arms["control"].mean)
    return {
        **{v: {"users": int(arms[v].users), "mean": float(arms[v].mean)} for v in VARIANTS},
        "difference": float(result.difference),
        "relative_lift": float(result.difference) / control_mean if control_mean else None,
        "ci_low": float(result.ci_low),
        "ci_high": float(result.ci_high),
        "p_value": float(result.p_value),
        "sequential_p_value": float(result.sequential_p_value),
        **({"cuped": cuped} if cuped else {}),
    }
