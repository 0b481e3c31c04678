"""A/B tests of two versions of a model on its endpoint: the seed's ab-test-manager
(``create_test``, ``analyze_test``) as plain functions the ``ab_test`` and
``ab_test_analysis`` DAGs call.

A test holds its endpoint's deployment lock from start to conclusion, so no canary
rollout changes the variants under it, and the A/B test store refuses a second running
test on the same endpoint. Users, not requests, are randomised: ``assign`` hashes (test,
user) into an arm and the client invokes that arm's variant (``TargetVariant``); the
variant weights only route callers that do not take part.

Each day's analysis is written under ``abtests/<test-id>/dt=YYYY-MM-DD/`` (JSON and an
HTML page with the confidence intervals so far), keyed on the day, so a re-run rewrites the
same files and a finished test stays finished.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, NotRequired, TypedDict

from findining_mlops.config.catalog import ModelSpec, get_model
from findining_mlops.errors import ABTestError, DataValidationError, RegistryError
from findining_mlops.platform.ports import (
    APPROVED,
    CONCLUDED,
    RUNNING,
    STOPPED,
    ABTest,
    Platform,
    ProductionVariant,
)
from findining_mlops.registry import versions
from findining_mlops.registry.variants import production_variant, variant_name
from findining_mlops.store.json import read_json, write_json
from findining_mlops.store.layout import abtest_day_prefix, abtest_definition_key, abtest_prefix

if TYPE_CHECKING:
    from findining_mlops.abtest.queries import Moments, Plan
    from findining_mlops.abtest.stats import MetricResult, SrmCheck

log = logging.getLogger(__name__)
ARMS = ("control", "treatment")
STOPPED_DECISIONS = ("stopped_srm", "stopped_guardrail")
WINS = {"treatment_wins": "treatment", "control_wins": "control"}
ASSIGNMENT_BUCKETS = 10_000


@dataclass(frozen=True)
class TestRequest:
    """The ``ab_test`` form (the seed's ``create_test`` payload)."""

    test_name: str
    model_name: str
    control_version: int
    treatment_version: int
    traffic_split: int  # percent of users in treatment
    duration_days: int
    success_metrics: list[str]
    guardrail_metrics: list[str]
    alpha: float = 0.05


def test_id_for(test_name: str, run_id: str) -> str:
    """A readable id that is the same for every retry of one DAG run."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:48] or "test"
    return f"{slug}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"


def lock_owner(test_id: str) -> str:
    return f"abtest:{test_id}"


def plan_test(platform: Platform, request: TestRequest, test_id: str, start_day: date) -> ABTest:
    """Checks everything before anything changes; raises with what to fix."""
    spec = get_model(request.model_name)
    if not 1 <= request.traffic_split <= 99:
        raise DataValidationError(f"traffic_split {request.traffic_split} % must be between 1 and 99: "
                                  "both arms need users")
    if request.duration_days < 1:
        raise DataValidationError(f"duration_days {request.duration_days} must be at least 1")
    if not 0 < request.alpha < 0.5:
        raise DataValidationError(f"alpha {request.alpha} must be between 0 and 0.5")
    if request.control_version == request.treatment_version:
        raise DataValidationError(f"control and treatment are both v{request.control_version}; "
                                  "an A/B test compares two versions")
    for arm, version in (("control", request.control_version), ("treatment", request.treatment_version)):
        found = platform.registry.get(spec.name, version)  # RegistryError names an unknown version
        if found.status != APPROVED:
            raise RegistryError(f"{arm} {spec.name} {found.display} is {found.status}; only Approved versions "
                                "take part in an A/B test")
    success = _metric_specs(spec, request.success_metrics, "success_metrics")
    guardrails = _metric_specs(spec, request.guardrail_metrics, "guardrail_metrics")
    if not success:
        raise DataValidationError("success_metrics is empty; an A/B test needs at least one")
    both = sorted(set(success) & set(guardrails))
    if both:
        raise DataValidationError(f"{both} cannot be both a success and a guardrail metric")
    busy = [t.test_id for t in platform.abtests.list_tests(RUNNING)
            if t.endpoint == spec.endpoint_name and t.test_id != test_id]
    if busy:
        raise ABTestError(f"{spec.endpoint_name} already runs A/B test {busy[0]}; one test per endpoint at a "
                              "time — wait for it to conclude")
    control = platform.registry.get(spec.name, request.control_version)
    treatment = platform.registry.get(spec.name, request.treatment_version)
    return ABTest(
        test_id=test_id, test_name=request.test_name, model_name=spec.name, endpoint=spec.endpoint_name,
        control_version=control.version, treatment_version=treatment.version,
        control_variant=variant_name(control), treatment_variant=variant_name(treatment),
        traffic_split=request.traffic_split, duration_days=request.duration_days, success_metrics=success,
        guardrail_metrics=guardrails, alpha=request.alpha, started_at=start_day.isoformat())


def _metric_specs(spec: ModelSpec, names: list[str], role: str) -> dict:
    unknown = sorted(set(names) - set(spec.ab_metrics))
    if unknown:
        raise DataValidationError(f"{role} {unknown} are not metrics of {spec.name}; it records "
                                  f"{sorted(spec.ab_metrics)}")
    return {name: {"kind": spec.ab_metrics[name]["kind"],
                   "direction": spec.ab_metrics[name].get("direction", "higher_is_better")} for name in names}


def test_variants(platform: Platform, test: ABTest) -> list[ProductionVariant]:
    """Both versions on the endpoint, weighted by the split."""
    share = test.traffic_split / 100
    return [production_variant(platform.registry.get(test.model_name, test.control_version), 1 - share),
            production_variant(platform.registry.get(test.model_name, test.treatment_version), share)]


def start_test(platform: Platform, test: ABTest, wait: bool = True) -> ABTest:
    """Takes the endpoint, puts both versions on it as variants and records the test
    (``wait=False``: the endpoint update is submitted, not waited for).

    A retry finds its own lock, the same endpoint config and the recorded test, and changes
    nothing; a failure before the record gives the endpoint's lock back."""
    holder = platform.endpoints.acquire_deployment_lock(test.endpoint, lock_owner(test.test_id))
    if holder is not None:
        raise ABTestError(f"{test.endpoint} is held by {holder}; an A/B test starts when no rollout or "
                              "other test is running on the endpoint")
    try:
        endpoint = platform.endpoints.deploy(test.endpoint, test_variants(platform, test), wait=wait)
        recorded = platform.abtests.create(test)
    except Exception:
        if platform.abtests.get(test.test_id) is None:
            platform.endpoints.release_deployment_lock(test.endpoint, lock_owner(test.test_id))
        raise
    platform.store.write_bytes(abtest_definition_key(test.test_id),
                               json.dumps({**recorded.to_dict(), "endpoint_config": endpoint.to_dict()},
                                          indent=2, ensure_ascii=False).encode())
    log.info("A/B test %s: %s v%d (control) vs v%d (treatment, %d %% of users) on %s", test.test_id, test.model_name,
             test.control_version, test.treatment_version, test.traffic_split, test.endpoint)
    return recorded


def assign(test: ABTest, user_id: str) -> str:
    """The user's arm for the whole test: a stable hash of (test, user) against the split."""
    digest = hashlib.sha256(f"{test.test_id}:{user_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % ASSIGNMENT_BUCKETS
    return "treatment" if bucket < test.traffic_split * ASSIGNMENT_BUCKETS // 100 else "control"


def arm_variant(test: ABTest, arm: str) -> str:
    return test.treatment_variant if arm == "treatment" else test.control_variant


def event_id(test_id: str, user_id: str, metric_name: str, key: str) -> str:
    """A user's metric value for the same request or time, recorded twice, is one event."""
    return hashlib.sha256(f"{test_id}|{user_id}|{metric_name}|{key}".encode()).hexdigest()[:32]


def running_on(platform: Platform, day: date) -> list[ABTest]:
    """Tests that were running on ``day``: started by then and not finished before it."""
    return [t for t in platform.abtests.list_tests()
            if date.fromisoformat(t.started_at) <= day
            and (t.status == RUNNING or date.fromisoformat(t.concluded_at) >= day)]


def one_test_on(platform: Platform, test_id: str, day: date) -> list[ABTest]:
    """The test ``test_id`` (the on-demand analysis of one test), if it was running on ``day``;
    otherwise ABTestError saying which tests exist or when this one ran."""
    test = platform.abtests.get(test_id)
    if test is None:
        known = ", ".join(t.test_id for t in platform.abtests.list_tests()) or "none yet"
        raise ABTestError(f"there is no A/B test {test_id!r}; the tests are: {known}")
    if test not in running_on(platform, day):
        raise ABTestError(f"A/B test {test_id} was not running on {day} (it ran from {test.started_at}"
                              f"{' to ' + test.concluded_at if test.concluded_at else ''}); "
                              f"trigger with a logical date in that time")
    return [test]


MomentsSource = Callable[[ABTest, "Plan", date], "Moments"]


class DayAnalysis(TypedDict):
    """One day's ``analysis.json`` of a test, as ``analyze_day`` writes it and returns it to the DAG."""

    test_id: str
    day: str  # ISO date
    day_number: int
    duration_days: int
    events: int
    users: dict[str, int]  # arm -> users in the test
    srm: SrmCheck | None
    metrics: dict[str, MetricResult]  # by metric name
    decision: str
    note: NotRequired[str]  # why there is no analysis yet
    outcome: str  # the test's status after the day
    winner: int | None


class DeploymentConf(TypedDict):
    """The ``model_deployment`` Params that end a test on its endpoint."""

    model_name: str
    version: int
    strategy: str
    bake_minutes: int


def analyze_day(platform: Platform, test: ABTest, day: date, moments: MomentsSource | None = None) -> DayAnalysis:
    """The analysis of every event up to the end of ``day`` and what it means for the test.

    ``moments`` computes the per-arm moments of the test's events up to ``day``; by default DuckDB, incrementally
    from the day's partition and the running per-user aggregate on the store (``engine.daily_moments``)."""
    from findining_mlops.abtest import analysis, engine, stats

    day_number = (day - date.fromisoformat(test.started_at)).days + 1
    plan = analysis.sql_plan(test.analysis_config())

    def on_duckdb(test: ABTest, plan, day: date) -> Moments:
        return engine.daily_moments(platform.store, test.test_id, plan, day, date.fromisoformat(test.started_at))

    try:
        arms = (moments or on_duckdb)(test, plan, day)
    except DataValidationError as exc:
        raise DataValidationError(f"A/B test {test.test_id}, {day}: the recorded events break the contract: "
                                  f"{exc}") from exc
    summary = {"test_id": test.test_id, "day": day.isoformat(), "day_number": day_number,
               "duration_days": test.duration_days, "events": sum(arms[arm]["events"] for arm in ARMS),
               "users": {arm: arms[arm]["in_test"] for arm in ARMS}}
    try:
        result = stats.analyze_moments(arms, test.analysis_config())
    except DataValidationError as exc:  # too few users of a metric in an arm: a normal first day
        result = {"srm": None, "metrics": {}, "decision": "inconclusive", "note": f"not enough data yet: {exc}"}
    summary.update(result)
    summary["outcome"] = _status(result["decision"], day_number >= test.duration_days)
    summary["winner"] = _winner(test, result["decision"], summary["outcome"])
    days = [a for a in history(platform, test) if a["day"] < summary["day"]] + [summary]
    prefix = abtest_day_prefix(test.test_id, day)
    write_json(platform.store, prefix + "analysis.json", summary)
    names = versions.version_names(platform.registry, test.model_name)
    platform.store.write_bytes(prefix + "report.html", render_report(test, days, names).encode())
    log.info("A/B test %s day %d/%d: %s -> %s", test.test_id, day_number, test.duration_days, result["decision"],
             summary["outcome"])
    return summary


def _status(decision: str, ended: bool) -> str:
    """The test's status after the day's decision (stored as the analysis' ``outcome``)."""
    if decision in STOPPED_DECISIONS:
        return STOPPED
    if decision in WINS or ended:
        return CONCLUDED
    return RUNNING


def _winner(test: ABTest, decision: str, status: str) -> int | None:
    """The version that goes to 100 %: the winner, or the control when the test ends without one."""
    if status != CONCLUDED:
        return None
    arm = WINS.get(decision, "control")
    return test.treatment_version if arm == "treatment" else test.control_version


def finish(platform: Platform, test: ABTest, summary: DayAnalysis) -> ABTest:
    """Records the end of the test and frees its endpoint; the same call again changes nothing."""
    finished = platform.abtests.finish(test.test_id, summary["outcome"], summary["decision"], summary["winner"],
                                           summary["day"])
    platform.endpoints.release_deployment_lock(test.endpoint, lock_owner(test.test_id))
    return finished


def result_message(test: ABTest, summary: DayAnalysis,
                   names: versions.VersionNames | None = None) -> tuple[str, str]:
    """The SNS / local alert that summarises a finished test; ``names``: the model's versions as
    a person sees them (``versions.version_names``), so the arms read ``v3 (1.1.0)``, else ``v3``."""
    names = names or versions.VersionNames()
    headline = {
        "stopped_srm": "stopped: sample-ratio mismatch",
        "stopped_guardrail": "stopped: a guardrail metric got worse",
        "treatment_wins": f"treatment {names[test.treatment_version]} wins",
        "control_wins": f"control {names[test.control_version]} wins",
    }.get(summary["decision"], f"no significant difference after {summary['day_number']} days")
    lines = [f"A/B test {test.test_name} ({test.test_id}) on {test.endpoint}: {headline}",
             f"Day {summary['day_number']} of {test.duration_days} ({summary['day']}); users {summary['users']}"]
    if summary.get("srm"):
        lines.append(f"Sample-ratio check: p = {summary['srm']['p_value']:.3g}"
                     f"{' (mismatch: arms are not comparable)' if summary['srm']['mismatch'] else ''}")
    for name, m in summary["metrics"].items():
        lines.append(f"{name}: control {m['control']['mean']:.4g} vs treatment {m['treatment']['mean']:.4g}, "
                     f"difference {m['difference']:+.4g} [{m['ci_low']:+.4g}, {m['ci_high']:+.4g}], "
                     f"always-valid p = {m['sequential_p_value']:.3g}{' (significant)' if m['significant'] else ''}")
    if summary["winner"] is not None:
        lines.append(f"Next: {test.model_name} {names[summary['winner']]} goes to 100 % through "
                     "model_deployment")
    elif summary["outcome"] == STOPPED:
        lines.append(f"Next: the control, {test.model_name} {names[test.control_version]}, "
                     "takes all users back through model_deployment")
    return f"A/B test {test.test_name}: {headline}", "\n".join(lines)


def deployment_conf(test: ABTest, summary: DayAnalysis) -> DeploymentConf | None:
    """``model_deployment`` Params that end the test on the endpoint, or None while it runs.

    The winner goes to 100 %. A stopped test hands all users back to the control at once:
    its treatment may be what hurt a guardrail, and a mismatched split taught nothing."""
    if summary["outcome"] == RUNNING:
        return None
    version = summary["winner"] if summary["outcome"] == CONCLUDED else test.control_version
    return {"model_name": test.model_name, "version": version, "strategy": "all_at_once", "bake_minutes": 0}


def history(platform: Platform, test: ABTest) -> list[DayAnalysis]:
    """Every stored daily analysis of the test, oldest first."""
    keys = sorted(k for k in platform.store.list_keys(abtest_prefix(test.test_id)) if k.endswith("/analysis.json"))
    return [read_json(platform.store, k) for k in keys]


def ci_figure(test: ABTest, days: list[DayAnalysis], names: versions.VersionNames | None = None):
    """Per metric, the daily difference (treatment − control) with its confidence interval."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from findining_mlops.reporting.plots import day_axis

    names = names or versions.VersionNames()

    metrics = list(test.success_metrics) + list(test.guardrail_metrics)
    figure = make_subplots(rows=len(metrics), cols=1, subplot_titles=[
        f"{m} ({'success' if m in test.success_metrics else 'guardrail'}): treatment − control" for m in metrics])
    for row, name in enumerate(metrics, start=1):
        points = [(a["day"], a["metrics"][name]) for a in days if name in a["metrics"]]
        figure.add_trace(go.Scatter(
            x=[d for d, _ in points], y=[p["difference"] for _, p in points], mode="lines+markers", name=name,
            error_y={"type": "data", "symmetric": False, "array": [p["ci_high"] - p["difference"] for _, p in points],
                     "arrayminus": [p["difference"] - p["ci_low"] for _, p in points]}), row=row, col=1)
        figure.add_hline(y=0, line_dash="dot", row=row, col=1)
    day_axis(figure, [a["day"] for a in days])
    figure.update_layout(height=300 * len(metrics), showlegend=False,
                         title=f"A/B test {test.test_name}: {names[test.control_version]} (control) vs "
                               f"{names[test.treatment_version]} (treatment, {test.traffic_split} % of users)")
    return figure


def render_report(test: ABTest, days: list[DayAnalysis], names: versions.VersionNames | None = None) -> str:
    """An HTML page: the daily confidence intervals per metric and the daily decisions."""
    names = names or versions.VersionNames()
    rows = "".join(
        f"<tr><td>{a['day']}</td><td>{a['day_number']}</td><td>{a['users']['control']}</td>"
        f"<td>{a['users']['treatment']}</td><td>{html.escape(a['decision'])}</td><td>{a['outcome']}</td></tr>"
        for a in days)
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>A/B test {html.escape(test.test_name)}</title></head><body>"
            f"<h1>A/B test {html.escape(test.test_name)} ({test.test_id}): "
            f"{html.escape(names[test.control_version])} (control) vs "
            f"{html.escape(names[test.treatment_version])} (treatment)</h1>"
            "<table border=1><tr><th>day</th><th>#</th><th>control users</th><th>treatment users</th>"
            f"<th>decision</th><th>outcome</th></tr>{rows}</table>"
            + ci_figure(test, days, names).to_html(full_html=False, include_plotlyjs=True) + "</body></html>")
