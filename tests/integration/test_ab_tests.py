"""A/B tests end to end: the ``ab_test`` form refuses what cannot be tested and starts what
can, users keep their arm, outcomes are recorded once, and ``ab_test_analysis`` stops,
concludes and promotes through Airflow (``dag.test``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from simulation import SENTIMENT, bootstrap, load_dag, read_alerts

from devtools.traffic import abtest_day
from findining_mlops.abtest import lifecycle
from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.errors import ABTestError, DataValidationError, RegistryError
from findining_mlops.platform.ports import CONCLUDED, RUNNING, STOPPED, MetricEvent
from findining_mlops.serving.client.service import MLService

pytestmark = pytest.mark.slow
START = date(2026, 10, 1)
TEST_DAY = START + timedelta(days=6)
ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"
FORM = {"test_name": "sentiment v1 vs v2", "model_name": "sentiment", "control_version": 1, "treatment_version": 2,
        "traffic_split": 50, "duration_days": 5, "success_metrics": ["sentiment_accuracy"], "guardrail_metrics": [],
        "alpha": 0.05, "start_date": TEST_DAY.isoformat()}


@pytest.fixture
def versions(platform, airflow_db, use_catalog, trained_jobs):
    """Sentiment v1 live, v2 approved (both real models), v3 rejected."""
    use_catalog(sentiment={**SENTIMENT, "training_window_days": 5, "holdout_days": 1, "max_regression": 0.05})
    generate(platform.store, START, 10, seed=4, requests_per_day=10, reviews_per_day=150)
    spec = get_model("sentiment")
    bootstrap(platform, spec, START + timedelta(days=5), "job-v1", trained=trained_jobs)
    bootstrap(platform, spec, START + timedelta(days=5), "job-v2", trained=trained_jobs)
    v1 = platform.registry.get("sentiment", 1)
    platform.registry.register("sentiment", v1.artifact_key, status="Rejected", metrics={}, lineage={},
                               reason="a rejected version", idempotency_key="v3")
    return spec


def request(**changes) -> lifecycle.TestRequest:
    fields = {k: v for k, v in FORM.items() if k != "start_date"}
    return lifecycle.TestRequest(**{**fields, **changes})


def started(platform, test_id="t-1", **changes):
    return lifecycle.start_test(platform, lifecycle.plan_test(platform, request(**changes), test_id, TEST_DAY))


def record(platform, test, day: date, users: range, value_of, metric="sentiment_accuracy", variant_of=None):
    """Outcomes of ``users`` on ``day``; the arm is the user's assigned one unless ``variant_of`` says otherwise."""
    when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    events = []
    for u in users:
        user = f"user-{u}"
        arm = variant_of(u) if variant_of else lifecycle.assign(test, user)
        events.append(MetricEvent(lifecycle.event_id(test.test_id, user, metric, day.isoformat()), test.test_id,
                                  user, arm, metric, float(value_of(u, arm)), when))
    platform.abtests.record(events)


# -- creating a test ----------------------------------------------------------------------
@pytest.mark.parametrize("changes, error, message", [
    ({"control_version": 9}, RegistryError, "no version 9"),
    ({"treatment_version": 3}, RegistryError, r"treatment sentiment v3 \(1\.2\.0\) is Rejected"),
    ({"traffic_split": 0}, DataValidationError, "between 1 and 99"),
    ({"traffic_split": 100}, DataValidationError, "between 1 and 99"),
    ({"success_metrics": ["recommendation_accuracy"]}, DataValidationError, "not metrics of sentiment"),
    ({"success_metrics": []}, DataValidationError, "at least one"),
    ({"treatment_version": 1}, DataValidationError, "both v1"),
    ({"guardrail_metrics": ["sentiment_accuracy"]}, DataValidationError, "both a success and a guardrail"),
])
def test_a_test_that_cannot_run_is_refused_before_anything_changes(versions, platform, changes, error, message):
    before = platform.endpoints.describe(ENDPOINT)
    with pytest.raises(error, match=message):
        lifecycle.plan_test(platform, request(**changes), "t-1", TEST_DAY)
    assert platform.abtests.list_tests() == []
    assert platform.endpoints.describe(ENDPOINT) == before


def test_starting_puts_both_versions_on_the_endpoint_holds_it_and_records_the_test(versions, platform):
    test = started(platform, traffic_split=30)
    variants = {v.variant_name: (v.model_version, v.weight) for v in platform.endpoints.describe(ENDPOINT).variants}
    assert variants == {"sentiment-v1": (1, pytest.approx(0.7)), "sentiment-v2": (2, pytest.approx(0.3))}
    assert platform.abtests.get("t-1") == test and test.status == RUNNING
    assert json.loads(platform.store.read_bytes("abtests/t-1/test.json"))["traffic_split"] == 30
    # a rollout cannot change the variants under the test, and a retry changes nothing
    assert platform.endpoints.acquire_deployment_lock(ENDPOINT, "model_deployment run") == "abtest:t-1"
    assert started(platform, traffic_split=30) == test
    with pytest.raises(ABTestError, match="already runs A/B test t-1"):
        started(platform, test_id="t-2")
    assert platform.abtests.get("t-2") is None


def test_a_rollout_in_progress_keeps_a_test_from_starting_and_nothing_is_recorded(versions, platform):
    platform.endpoints.acquire_deployment_lock(ENDPOINT, "model_deployment run")
    with pytest.raises(ABTestError, match="held by model_deployment run"):
        started(platform)
    assert platform.abtests.list_tests() == []


# -- assignment and the client ------------------------------------------------------------
def test_a_user_keeps_their_arm_and_the_arms_share_users_as_planned(versions, platform):
    test = started(platform, traffic_split=20)
    service = MLService(platform)
    for user in ("alice", "bob", "carol", "dave"):
        served = {service.analyze_review("好好食", user_id=user).variant for _ in range(8)}
        assert served == {lifecycle.arm_variant(test, lifecycle.assign(test, user))}
    arms = [lifecycle.assign(test, f"user-{i}") for i in range(20_000)]
    assert arms.count("treatment") / len(arms) == pytest.approx(0.20, abs=0.012)


def test_outcomes_are_recorded_once_and_bad_ones_are_refused(versions, platform):
    started(platform)
    service = MLService(platform)
    context = {"inference_id": "req-1", "timestamp": "2026-10-07T10:00:00+00:00"}
    assert service.record_ab_test_result("alice", "sentiment", "sentiment_accuracy", 1.0, context) is True
    assert service.record_ab_test_result("alice", "sentiment", "sentiment_accuracy", 1.0, context) is False
    with pytest.raises(ABTestError, match="does not measure 'stars'"):
        service.record_ab_test_result("alice", "sentiment", "stars", 4.0, context)
    with pytest.raises(ABTestError, match="finite number"):
        service.record_ab_test_result("alice", "sentiment", "sentiment_accuracy", "yes", context)
    with pytest.raises(ABTestError, match="no A/B test is running for recommendation"):
        service.record_ab_test_result("alice", "recommendation", "recommendation_accuracy", 1.0, context)
    assert len(platform.abtests.events("t-1")) == 1
    assert service.health_check()["sentiment"]["status"] == "InService"


def test_a_replayed_day_sends_each_user_to_their_arm_and_records_real_outcomes_once(versions, platform):
    test = started(platform, guardrail_metrics=["model_latency_ms"])
    service = MLService(platform)
    first = abtest_day(service, versions, TEST_DAY)
    assert first.requests == 150 and first.errors == 0 and set(first.per_arm) == {"control", "treatment"}
    events = platform.abtests.events(test.test_id)
    assert first.events_new == len(events) == 300  # accuracy and latency per request
    assert all(e.variant == lifecycle.assign(test, e.user_id) for e in events)
    assert {e.metric_value for e in events if e.metric_name == "sentiment_accuracy"} == {0.0, 1.0}
    assert abtest_day(service, versions, TEST_DAY).events_new == 0


# -- the daily analysis through Airflow -----------------------------------------------------
def run_analysis(day: date):
    dag = load_dag("ab_test_analysis")
    when = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return dag.test(logical_date=when, run_after=when + timedelta(days=1))


def deployment_requests(test) -> list[dict]:
    """The model_deployment runs the test's conclusion asked for (the metadata DB outlives a test)."""
    from airflow.models.dagrun import DagRun

    return [{"run_id": r.run_id, "conf": r.conf} for r in DagRun.find(dag_id="model_deployment")
            if r.run_id == f"abtest__{test.test_id}"]


def test_the_form_starts_a_test_and_the_daily_analysis_promotes_a_better_treatment(versions, platform, home):
    run = load_dag("ab_test").test(run_conf=FORM)
    assert run.state == "success"
    (test,) = platform.abtests.list_tests(RUNNING)
    rng = np.random.default_rng(1)
    for offset in range(3):
        day = TEST_DAY + timedelta(days=offset)
        record(platform, test, day, range(offset * 400, offset * 400 + 400),
               lambda u, arm: rng.random() < (0.85 if arm == "treatment" else 0.7))
        assert run_analysis(day).state == "success"
        if platform.abtests.get(test.test_id).status != RUNNING:
            break
    done = platform.abtests.get(test.test_id)
    assert (done.status, done.decision, done.winner) == (CONCLUDED, "treatment_wins", 2)
    analysis = json.loads(platform.store.read_bytes(f"abtests/{test.test_id}/dt={done.concluded_at}/analysis.json"))
    assert analysis["metrics"]["sentiment_accuracy"]["ci_low"] > 0
    assert b"plotly" in platform.store.read_bytes(f"abtests/{test.test_id}/dt={done.concluded_at}/report.html")
    assert deployment_requests(test) == [{"run_id": f"abtest__{test.test_id}", "conf": {
        "model_name": "sentiment", "version": 2, "strategy": "all_at_once", "bake_minutes": 0}}]
    assert any("treatment v2 (1.1.0) wins" in a["Subject"] for a in read_alerts(home))  # number and label
    # the endpoint is free again, and a re-run of the day neither reopens nor promotes twice
    assert platform.endpoints.acquire_deployment_lock(ENDPOINT, "next") is None
    platform.endpoints.release_deployment_lock(ENDPOINT, "next")
    assert run_analysis(date.fromisoformat(done.concluded_at)).state == "success"
    assert platform.abtests.get(test.test_id) == done and len(deployment_requests(test)) == 1
    # the winner then goes to 100 % without a bake (it was judged on real users)
    rollout = load_dag("model_deployment").test(run_conf=deployment_requests(test)[0]["conf"])
    assert rollout.state == "success"
    assert [(v.model_version, v.weight) for v in platform.endpoints.describe(ENDPOINT).variants] == [(2, 1.0)]


def test_a_sample_ratio_mismatch_stops_the_test_without_a_winner(versions, platform, home):
    test = started(platform, test_id="srm")
    record(platform, test, TEST_DAY, range(20_000), lambda u, arm: u % 2,
           variant_of=lambda u: "control" if u % 100 < 52 else "treatment")
    assert run_analysis(TEST_DAY).state == "success"
    done = platform.abtests.get(test.test_id)
    assert (done.status, done.decision, done.winner) == (STOPPED, "stopped_srm", None)
    # no winner: the control takes every user back, through model_deployment
    (back,) = deployment_requests(test)
    assert back["conf"] == {"model_name": "sentiment", "version": 1, "strategy": "all_at_once", "bake_minutes": 0}
    assert load_dag("model_deployment").test(run_conf=back["conf"]).state == "success"
    assert [(v.model_version, v.weight) for v in platform.endpoints.describe(ENDPOINT).variants] == [(1, 1.0)]
    assert any("sample-ratio mismatch" in a["Subject"] for a in read_alerts(home))


def test_a_worse_guardrail_stops_the_test_even_when_the_treatment_converts_better(versions, platform):
    test = started(platform, test_id="guardrail", guardrail_metrics=["model_latency_ms"])
    rng = np.random.default_rng(2)
    record(platform, test, TEST_DAY, range(3000), lambda u, arm: rng.random() < (0.9 if arm == "treatment" else 0.6))
    record(platform, test, TEST_DAY, range(3000), lambda u, arm: rng.normal(40 if arm == "treatment" else 20, 5),
           metric="model_latency_ms")
    assert run_analysis(TEST_DAY).state == "success"
    assert platform.abtests.get(test.test_id).decision == "stopped_guardrail"
    assert [r["conf"]["version"] for r in deployment_requests(test)] == [1]  # back to the control


def test_a_test_without_a_winner_concludes_at_the_end_of_its_duration_and_keeps_the_control(versions, platform):
    test = started(platform, test_id="duration", duration_days=2)
    for offset in range(2):
        day = TEST_DAY + timedelta(days=offset)
        record(platform, test, day, range(offset * 200, offset * 200 + 200), lambda u, arm: u % 2)
        assert run_analysis(day).state == "success"
    done = platform.abtests.get(test.test_id)
    assert (done.status, done.decision, done.winner, done.concluded_at) == (
        CONCLUDED, "inconclusive", 1, (TEST_DAY + timedelta(days=1)).isoformat())


def test_events_that_break_the_contract_fail_the_analysis_with_a_message_and_an_alert(versions, platform, home):
    test = started(platform)
    record(platform, test, TEST_DAY, range(100), lambda u, arm: 1,
           variant_of=lambda u: "holdout" if u < 3 else "control")
    assert run_analysis(TEST_DAY).state == "failed"
    assert platform.abtests.get(test.test_id).status == RUNNING
    assert any("variant values other than 'control' and 'treatment'" in a["Message"] for a in read_alerts(home))
