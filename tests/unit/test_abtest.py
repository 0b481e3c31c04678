"""A/B test analysis: user-level tests that equal scipy's and statsmodels', an SRM stop, always-valid sequential
p-values that keep their false-positive rate under daily looks, Holm-adjusted decisions, CUPED that narrows the
interval without bias, the same result whatever the columns' dtypes, and errors that name what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from findining_mlops.abtest.analysis import analyze
from findining_mlops.abtest.stats import _Arm, _binary_arm, _compare, _holm, load_config
from findining_mlops.cli.main import main
from findining_mlops.errors import DataValidationError

ALPHA = 0.05


def _events(metrics: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """One event per user and metric; users are numbered per arm so the same user carries every metric."""
    frames = []
    for name, arms in metrics.items():
        for variant, values in zip(("control", "treatment"), arms, strict=False):
            frames.append(pd.DataFrame({
                "user_id": [f"{variant[0]}{i}" for i in range(len(values))], "variant": variant,
                "metric_name": name, "metric_value": np.asarray(values, dtype=float),
                "timestamp": pd.Timestamp("2026-11-01"),
            }))
    return pd.concat(frames, ignore_index=True)


def _config(success: dict, guardrail: dict | None = None, **overrides) -> dict:
    return {"control_share": 0.5, "alpha": ALPHA, "success_metrics": success, "guardrail_metrics": guardrail or {},
            **overrides}


# fixed-horizon tests equal the reference implementations


@pytest.mark.parametrize("alpha", [0.05, 0.1])
@pytest.mark.parametrize(("n_control", "n_treatment"), [(5, 7), (60, 45), (2000, 2300)])
def test_continuous_metric_equals_scipy_welch(n_control, n_treatment, alpha):
    rng = np.random.default_rng(n_control)
    control = rng.normal(10.0, 2.0, n_control)
    treatment = rng.normal(10.3, 3.0, n_treatment)
    result = analyze(_events({"revenue": (control, treatment)}),
                     _config({"revenue": {"kind": "continuous"}}, alpha=alpha))["metrics"]["revenue"]

    welch = stats.ttest_ind(treatment, control, equal_var=False)
    ci = welch.confidence_interval(1 - alpha)
    assert result["p_value"] == pytest.approx(welch.pvalue, abs=1e-9)
    assert result["ci_low"] == pytest.approx(ci.low, abs=1e-9)
    assert result["ci_high"] == pytest.approx(ci.high, abs=1e-9)
    assert result["difference"] == pytest.approx(treatment.mean() - control.mean(), abs=1e-12)
    assert result["relative_lift"] == pytest.approx(result["difference"] / control.mean())
    assert (result["control"]["users"], result["treatment"]["users"]) == (n_control, n_treatment)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
@pytest.mark.parametrize(("n_control", "n_treatment"), [(30, 40), (500, 450), (8000, 8000)])
def test_binary_metric_equals_statsmodels_ztest_and_wald_interval(n_control, n_treatment, alpha):
    rng = np.random.default_rng(n_treatment)
    control = rng.binomial(1, 0.20, n_control)
    treatment = rng.binomial(1, 0.24, n_treatment)
    result = analyze(_events({"converted": (control, treatment)}),
                     _config({"converted": {"kind": "binary"}}, alpha=alpha))["metrics"]["converted"]

    counts, users = [treatment.sum(), control.sum()], [n_treatment, n_control]
    _, p_value = proportions_ztest(counts, users)
    low, high = confint_proportions_2indep(counts[0], users[0], counts[1], users[1], method="wald", alpha=alpha)
    assert result["p_value"] == pytest.approx(p_value, abs=1e-9)
    assert result["ci_low"] == pytest.approx(low, abs=1e-9)
    assert result["ci_high"] == pytest.approx(high, abs=1e-9)
    assert result["treatment"]["mean"] == pytest.approx(treatment.mean())


def test_each_user_counts_once_mean_for_continuous_and_converted_at_least_once_for_binary():
    events = pd.DataFrame([
        ("a", "control", "spend", 1.0), ("a", "control", "spend", 3.0), ("b", "control", "spend", 6.0),
        ("c", "treatment", "spend", 0.0), ("c", "treatment", "spend", 2.0), ("d", "treatment", "spend", 5.0),
        ("a", "control", "converted", 0), ("a", "control", "converted", 1), ("a", "control", "converted", 1),
        ("b", "control", "converted", 0), ("c", "treatment", "converted", 0), ("d", "treatment", "converted", 0),
    ], columns=["user_id", "variant", "metric_name", "metric_value"]).assign(timestamp=pd.Timestamp("2026-11-01"))
    result = analyze(events, _config({"spend": {"kind": "continuous"}, "converted": {"kind": "binary"}}))["metrics"]
    assert result["spend"]["control"] == {"users": 2, "mean": 4.0}  # a: mean(1, 3) = 2, b: 6
    assert result["spend"]["treatment"] == {"users": 2, "mean": 3.0}  # c: 1, d: 5
    assert result["converted"]["control"] == {"users": 2, "mean": 0.5}  # a converted (twice), b did not
    assert result["converted"]["treatment"] == {"users": 2, "mean": 0.0}


def test_a_metric_without_spread_has_exact_p_values_instead_of_nan():
    nobody = np.zeros(50)
    result = analyze(_events({"converted": (nobody, nobody)}), _config({"converted": {"kind": "binary"}}))
    converted = result["metrics"]["converted"]
    assert (converted["p_value"], converted["sequential_p_value"], converted["ci_low"], converted["ci_high"]) == (
        1.0, 1.0, 0.0, 0.0)
    assert result["decision"] == "inconclusive"
    assert converted["relative_lift"] is None  # no lift on a control mean of 0


# sample-ratio mismatch


def _split_events(n_control: int, n_treatment: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return _events({"converted": (rng.binomial(1, 0.1, n_control), rng.binomial(1, 0.1, n_treatment))})


def test_a_52_48_split_of_a_50_50_test_is_stopped_for_sample_ratio_mismatch():
    result = analyze(_split_events(10_400, 9_600), _config({"converted": {"kind": "binary"}}))
    assert result["srm"]["mismatch"] is True
    assert result["srm"]["p_value"] < 1e-6
    assert result["decision"] == "stopped_srm"


def test_a_fair_split_is_not_a_mismatch():
    n_control = int(np.random.default_rng(11).binomial(20_000, 0.5))
    assert abs(n_control - 10_000) < 150  # the draw is a fair one, about 1 standard deviation (71) at most 2
    for control in (10_000, n_control):
        result = analyze(_split_events(control, 20_000 - control), _config({"converted": {"kind": "binary"}}))
        assert result["srm"]["mismatch"] is False
        assert result["decision"] != "stopped_srm"


def test_srm_is_judged_against_the_planned_control_share():
    result = analyze(_split_events(9_000, 1_000), _config({"converted": {"kind": "binary"}}, control_share=0.9))
    assert result["srm"]["mismatch"] is False


# sequential inference under daily looks, simulated with the module's own comparison on cumulative sums


def _simulated_arms(rng, kind: str, sims: int, days: int, per_day: int, effect: float) -> tuple[_Arm, _Arm]:
    """Each arm's summary after every day, shape (sims, days): continuous N(0, 1) users (treatment shifted by
    ``effect`` SD), or binary users converting with probability 0.1 (treatment + ``effect``)."""
    users = per_day * np.arange(1, days + 1)
    if kind == "binary":
        conversions = rng.binomial(per_day, [[[0.1]], [[0.1 + effect]]], (2, sims, days)).cumsum(axis=-1)
        return _binary_arm(users, conversions[0]), _binary_arm(users, conversions[1])
    draws = rng.standard_normal((2, sims, days, per_day))
    draws[1] += effect
    sums = draws.sum(axis=-1).cumsum(axis=-1)
    squares = (draws**2).sum(axis=-1).cumsum(axis=-1)
    means = sums / users
    variances = (squares - users * means**2) / (users - 1)
    return _Arm(users, means[0], variances[0]), _Arm(users, means[1], variances[1])


@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_sequential_p_value_keeps_the_false_positive_rate_under_daily_looks_where_the_naive_test_does_not(kind):
    sims = 2000
    control, treatment = _simulated_arms(np.random.default_rng(2026), kind, sims, days=14, per_day=200, effect=0.0)
    comparison = _compare(kind, control, treatment, ALPHA)
    two_se = 2 * np.sqrt(ALPHA * (1 - ALPHA) / sims)

    sequential_fpr = (comparison.sequential_p_value < ALPHA).any(axis=1).mean()
    naive_fpr = (comparison.p_value < ALPHA).any(axis=1).mean()
    assert sequential_fpr <= ALPHA + two_se
    assert naive_fpr > ALPHA + two_se  # peeking at a fixed-horizon test daily inflates false positives


@pytest.mark.parametrize(("kind", "effect", "share"), [
    ("continuous", 0.15, 0.95),  # treatment +0.15 per-user standard deviations; measured 99.8 %
    ("binary", 0.03, 0.70),  # conversion 10 % -> 13 %; measured 76 %
])
def test_power_a_true_effect_of_the_stated_size_is_concluded_for_treatment_in_the_stated_share_of_tests(
        kind, effect, share):
    """500 simulated 14-day tests, 200 new users per arm per day, one look a day: a test concludes on the first day
    its sequential p-value is below alpha. At least ``share`` of them conclude for treatment, none for control."""
    rng = np.random.default_rng(5)
    control, treatment = _simulated_arms(rng, kind, 500, days=14, per_day=200, effect=effect)
    comparison = _compare(kind, control, treatment, ALPHA)
    significant = comparison.sequential_p_value < ALPHA
    assert (significant & (comparison.difference > 0)).any(axis=1).mean() >= share
    assert not (significant & (comparison.difference < 0)).any()


# decisions


def _shifted(rng, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(0.0, 1.0, n), rng.normal(shift, 1.0, n)


def test_a_clearly_better_treatment_wins_and_the_output_is_json():
    rng = np.random.default_rng(1)
    events = _events({"revenue": _shifted(rng, 3000, 0.3), "clicks": _shifted(rng, 3000, 0.0)})
    result = analyze(events, _config({"revenue": {"kind": "continuous"}, "clicks": {"kind": "continuous"}}))
    assert result["decision"] == "treatment_wins"
    revenue = result["metrics"]["revenue"]
    assert revenue["significant"] is True
    assert revenue["p_value"] <= revenue["p_value_adjusted"] <= 1  # Holm over two success metrics
    assert revenue["sequential_p_value"] >= revenue["p_value"]  # the price of looking at any time
    assert json.loads(json.dumps(result)) == result


def test_lower_is_better_makes_a_lower_treatment_mean_a_win():
    rng = np.random.default_rng(2)
    events = _events({"latency_ms": _shifted(rng, 3000, -0.3)})
    config = _config({"latency_ms": {"kind": "continuous", "direction": "lower_is_better"}})
    assert analyze(events, config)["decision"] == "treatment_wins"
    config["success_metrics"]["latency_ms"]["direction"] = "higher_is_better"
    assert analyze(events, config)["decision"] == "control_wins"


def test_success_metrics_that_disagree_are_inconclusive():
    rng = np.random.default_rng(3)
    events = _events({"revenue": _shifted(rng, 3000, 0.3), "retention": _shifted(rng, 3000, -0.3)})
    config = _config({"revenue": {"kind": "continuous"}, "retention": {"kind": "continuous"}})
    assert analyze(events, config)["decision"] == "inconclusive"


def test_a_significantly_worse_guardrail_stops_the_test_even_when_treatment_would_win():
    rng = np.random.default_rng(4)
    events = _events({"revenue": _shifted(rng, 3000, 0.3), "latency_ms": _shifted(rng, 3000, 0.3)})
    config = _config({"revenue": {"kind": "continuous"}},
                     {"latency_ms": {"kind": "continuous", "direction": "lower_is_better"}})
    result = analyze(events, config)
    assert result["decision"] == "stopped_guardrail"
    guardrail = result["metrics"]["latency_ms"]
    assert guardrail["p_value_adjusted"] == guardrail["p_value"]  # outside the Holm family
    config["guardrail_metrics"]["latency_ms"]["direction"] = "higher_is_better"
    assert analyze(events, config)["decision"] == "treatment_wins"


# Holm across success metrics


@pytest.mark.parametrize("p_values", [[0.01], [0.04, 0.01, 0.03], [0.2, 0.2, 0.01, 0.5], [0.6, 0.7, 0.9]])
def test_holm_adjustment_equals_statsmodels(p_values):
    assert _holm(p_values) == pytest.approx(multipletests(p_values, method="holm")[1], abs=1e-15)


# CUPED


def _with_covariate(rng, n: int, effect: float, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Per arm, n users' N(0, 1) pre-period values X and in-test values Y, correlated rho; treatment's Y + effect."""
    x = rng.standard_normal((2, n))
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((2, n))
    y[1] += effect
    return x, y


CUPED_CONFIG = _config({"satisfaction": {"kind": "continuous", "covariate": "pre_satisfaction"}})


def test_cuped_removes_the_variance_the_covariate_explains_and_tests_the_adjusted_values():
    rng = np.random.default_rng(8)
    x, y = _with_covariate(rng, 4000, effect=0.05, rho=0.7)
    events = _events({"satisfaction": (y[0], y[1]), "pre_satisfaction": (x[0], x[1])})
    result = analyze(events, CUPED_CONFIG)["metrics"]["satisfaction"]
    plain = analyze(events, _config({"satisfaction": {"kind": "continuous"}}))["metrics"]["satisfaction"]

    theta = np.cov(x.ravel(), y.ravel())[0, 1] / x.var(ddof=1)  # pooled over both arms
    adjusted = y - theta * (x - x.mean())
    welch = stats.ttest_ind(adjusted[1], adjusted[0], equal_var=False)
    assert result["cuped"]["covariate"] == "pre_satisfaction"
    assert result["cuped"]["theta"] == pytest.approx(theta, abs=1e-12)
    assert result["cuped"]["variance_reduction"] == pytest.approx(1 - adjusted.var() / y.var(), abs=1e-12)
    assert result["cuped"]["variance_reduction"] == pytest.approx(0.7**2, abs=0.03)  # rho² leaves the variance
    assert result["p_value"] == pytest.approx(welch.pvalue, abs=1e-9)
    assert result["ci_low"] == pytest.approx(welch.confidence_interval(1 - ALPHA).low, abs=1e-9)
    assert result["treatment"]["mean"] - result["control"]["mean"] == pytest.approx(result["difference"])
    width, plain_width = result["ci_high"] - result["ci_low"], plain["ci_high"] - plain["ci_low"]
    assert width < 0.75 * plain_width  # about sqrt(1 - rho²) = 0.71 of it
    assert "cuped" not in plain


def test_cuped_keeps_an_a_a_test_unbiased_and_its_false_positive_rate_at_alpha():
    sims, n = 1000, 200
    rng = np.random.default_rng(9)
    template = _events({"satisfaction": (np.zeros(n), np.zeros(n)), "pre_satisfaction": (np.zeros(n), np.zeros(n))})
    differences, p_values = np.empty(sims), np.empty(sims)
    for sim in range(sims):
        x, y = _with_covariate(rng, n, effect=0.0, rho=0.7)
        events = template.assign(metric_value=np.concatenate([y[0], y[1], x[0], x[1]]))  # the template's row order
        result = analyze(events, CUPED_CONFIG)["metrics"]["satisfaction"]
        differences[sim], p_values[sim] = result["difference"], result["p_value"]

    assert abs(differences.mean()) < 3 * differences.std() / np.sqrt(sims)
    assert (p_values < ALPHA).mean() <= ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / sims)


def test_cuped_gives_users_without_a_pre_period_value_the_pooled_one_and_ignores_pre_period_only_users():
    events = pd.DataFrame([
        ("a", "control", "satisfaction", 1.0), ("b", "control", "satisfaction", 2.0),
        ("c", "treatment", "satisfaction", 3.0), ("d", "treatment", "satisfaction", 5.0),
        ("a", "control", "pre_satisfaction", 1.0), ("b", "control", "pre_satisfaction", 2.0),
        ("b", "control", "pre_satisfaction", 4.0), ("c", "treatment", "pre_satisfaction", 5.0),
        ("e", "control", "pre_satisfaction", 100.0),  # never saw the test
    ], columns=["user_id", "variant", "metric_name", "metric_value"]).assign(timestamp=pd.Timestamp("2026-11-01"))
    result = analyze(events, CUPED_CONFIG)
    satisfaction = result["metrics"]["satisfaction"]
    # X = (1, 3, 5) for a, b, c and d gets their mean 3; theta = cov / var = 4 / 8; Y_adj = (2, 2, 2, 5)
    assert satisfaction["cuped"]["theta"] == pytest.approx(0.5)
    assert satisfaction["control"] == {"users": 2, "mean": pytest.approx(2.0)}
    assert satisfaction["treatment"] == {"users": 2, "mean": pytest.approx(3.5)}
    assert satisfaction["cuped"]["variance_reduction"] == pytest.approx(1 - np.var([2, 2, 2, 5]) / np.var([1, 2, 3, 5]))
    assert result["srm"]["p_value"] == pytest.approx(1.0)  # 2 vs 2 users: e is not in the test


# the same result whatever the events' dtypes


@pytest.mark.parametrize("convert", [
    lambda events, path: events.to_parquet(path) or pd.read_parquet(path),  # pyarrow shares equal strings
    lambda events, path: events.astype({c: "category" for c in ("user_id", "variant", "metric_name")}),
    lambda events, path: events.astype({c: "string[pyarrow]" for c in ("user_id", "variant", "metric_name")}),
], ids=["parquet", "categorical", "arrow-strings"])
def test_the_result_does_not_depend_on_how_the_columns_are_stored(convert, tmp_path):
    assert analyze(convert(_good_events(), tmp_path / "events.parquet"), GOOD_CONFIG) == analyze(
        _good_events(), GOOD_CONFIG)


def test_events_of_metrics_outside_the_config_are_ignored_even_when_not_numeric():
    events = _good_events()
    other = events.head(5).assign(metric_name="page_views", metric_value="lots")
    assert analyze(pd.concat([events, other], ignore_index=True), GOOD_CONFIG) == analyze(events, GOOD_CONFIG)


# bad input


def _good_events() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return _events({"converted": (rng.binomial(1, 0.3, 20), rng.binomial(1, 0.3, 20)),
                    "revenue": (rng.normal(5, 1, 20), rng.normal(5, 1, 20))})


GOOD_CONFIG = _config({"converted": {"kind": "binary"}}, {"revenue": {"kind": "continuous"}})


def _with_value(events: pd.DataFrame, metric: str, values) -> pd.DataFrame:
    events = events.astype({"metric_value": object})
    rows = events.index[events["metric_name"] == metric][: len(values)]
    events.loc[rows, "metric_value"] = values
    return events


@pytest.mark.parametrize(("events", "config", "message"), [
    (_good_events().drop(columns=["timestamp"]), GOOD_CONFIG, r"lack the columns \['timestamp'\]"),
    (_good_events().replace({"variant": {"treatment": "B"}}), GOOD_CONFIG,
     r"other than 'control' and 'treatment': \['B'\]"),
    (_with_value(_good_events(), "revenue", ["n/a", "12,5", None]), GOOD_CONFIG, r"3 rows of metric 'revenue'"),
    (_good_events(), {**GOOD_CONFIG, "success_metrics": {}}, "no success_metrics"),
    (_good_events(), {k: v for k, v in GOOD_CONFIG.items() if k != "success_metrics"}, "no success_metrics"),
    (_good_events(), _config({"converted": {"kind": "binary"}, "orders": {"kind": "continuous"}}),
     r"metrics \['orders'\] are in the config but not in the events"),
    (_good_events(), {**GOOD_CONFIG, "alpha": 1.5}, "alpha must be a number strictly between 0 and 1, got 1.5"),
    (_good_events(), {**GOOD_CONFIG, "alpha": 0}, "alpha must be a number strictly between 0 and 1"),
    (_good_events(), {**GOOD_CONFIG, "control_share": 1.0}, "control_share must be a number strictly between 0 and 1"),
    (_with_value(_good_events(), "converted", [2.0, 0.5]), GOOD_CONFIG,
     r"binary metric 'converted' has values other than 0 and 1 in 2 rows, e.g. \[0.5, 2.0\]"),
    (_good_events(), _config({"converted": {"kind": "count"}}), "needs kind 'binary' or 'continuous', got 'count'"),
    (_good_events(), _config({"converted": {"kind": "binary", "direction": "up"}}), "direction 'up'"),
    (_good_events().replace({"user_id": {"t3": "c3"}}), GOOD_CONFIG, "1 users appear in both variants, e.g. 'c3'"),
    (_good_events().query("variant == 'control' or user_id == 't0'"), GOOD_CONFIG,
     r"at least 2 users per arm; too few in \['treatment'\]"),
    (_good_events().assign(user_id=lambda e: e["user_id"].where(e.index != 3)), GOOD_CONFIG,
     "1 events have no user_id"),
    (_good_events(), _config({"converted": {"kind": "binary"}},
                             {"revenue": {"kind": "continuous", "covariate": "pre_revenue"}}),
     "covariate 'pre_revenue' of metric 'revenue' is not a metric_name in the events"),
    (_good_events(), _config({"converted": {"kind": "binary"}},
                             {"revenue": {"kind": "continuous", "covariate": "converted"}}),
     r"metrics \['converted'\] are CUPED covariates, measured before the test, and cannot also be success"),
    (_good_events(), _config({"converted": {"kind": "binary", "covariate": "revenue"}}),
     "'converted' is binary; a CUPED covariate is only for continuous metrics"),
    (_good_events(), _config({"revenue": {"kind": "continuous", "covariate": 3}}), "has covariate 3"),
], ids=["missing-column", "unknown-variant", "non-numeric", "empty-success", "no-success", "absent-metric",
        "alpha-above-1", "alpha-0", "control-share-1", "binary-not-0-1", "unknown-kind", "unknown-direction",
        "user-in-both-arms", "too-few-users", "missing-user-id", "unknown-covariate", "covariate-is-tested",
        "covariate-on-binary", "covariate-not-a-name"])
def test_bad_input_is_refused_with_a_message_that_names_the_problem(events, config, message):
    with pytest.raises(DataValidationError, match=message):
        analyze(events, config)


def test_load_config_validates_the_file(tmp_path):
    path = tmp_path / "test.json"
    path.write_text(json.dumps({**GOOD_CONFIG, "alpha": -0.1}), encoding="utf-8")
    with pytest.raises(DataValidationError, match="alpha must be"):
        load_config(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataValidationError, match="not valid JSON"):
        load_config(path)
    with pytest.raises(DataValidationError, match="does not exist"):
        load_config(tmp_path / "missing.json")


# command line


def test_cli_analyzes_parquet_events_with_a_json_config(tmp_path, capsys):
    events, config = tmp_path / "events.parquet", tmp_path / "test.json"
    _good_events().to_parquet(events)
    config.write_text(json.dumps(GOOD_CONFIG), encoding="utf-8")
    expected = analyze(_good_events(), GOOD_CONFIG)

    assert main(["abtest", "analyze", "--events", str(events), "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == expected

    out = tmp_path / "result.json"
    assert main(["abtest", "analyze", "--events", str(events), "--config", str(config), "--json", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text(encoding="utf-8")) == expected


def test_cli_reports_bad_input_and_exits_2(tmp_path, capsys):
    events, config = tmp_path / "events.parquet", tmp_path / "test.json"
    _good_events().to_parquet(events)
    config.write_text(json.dumps({**GOOD_CONFIG, "success_metrics": {}}), encoding="utf-8")
    assert main(["abtest", "analyze", "--events", str(events), "--config", str(config)]) == 2
    assert "no success_metrics" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # the argument parser refuses a missing file before any work
        main(["abtest", "analyze", "--events", str(tmp_path / "none.parquet"), "--config", str(config)])
    assert refused.value.code == 2
    assert "does not exist" in capsys.readouterr().err
