"""The guide's Lambda payloads (tests/fixtures/guide/), verbatim, as DAG confs through
Airflow (``dag.test``) on the local backend: each triggers its DAG and does what the guide
says, naming versions by label; a payload sent to the wrong DAG is refused naming the
right one."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from simulation import RECOMMENDATION, bootstrap, load_dag

from findining_mlops.abtest import lifecycle
from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.platform.ports import APPROVED, RUNNING

pytestmark = pytest.mark.slow
GUIDE = Path(__file__).resolve().parents[1] / "fixtures" / "guide"
START = date(2026, 10, 1)
LAST_DAY = START + timedelta(days=6)
ENDPOINT = "ai-restaurant-recommendation-recommendation-endpoint"
UPLOAD = "models/recommendation/1.1.0/model.tar.gz"


def payload(action: str) -> dict:
    return json.loads((GUIDE / f"{action}.json").read_text())


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.fixture
def guide_world(platform, airflow_db, use_catalog, trained_jobs):
    """The guide's recommendation model: 1.0.0 retrained and live, 1.1.0 uploaded to
    ``models/recommendation/1.1.0/`` and registered (as the artifact watch does)."""
    use_catalog(recommendation={**RECOMMENDATION, "training_window_days": 5, "holdout_days": 1,
                                "max_regression": 0.05})
    generate(platform.store, START, 7, seed=4, requests_per_day=120, reviews_per_day=10)
    first = bootstrap(platform, get_model("recommendation"), START + timedelta(days=5), "job-v1", trained=trained_jobs)
    platform.store.write_bytes(UPLOAD, platform.store.read_bytes(first.artifact_key))
    platform.registry.register("recommendation", UPLOAD, status=APPROVED, metrics=first.metrics,
                               lineage={"uploaded_artifact": UPLOAD}, reason=f"manual upload 1.1.0 ({UPLOAD})",
                               idempotency_key="upload:1.1.0", label="1.1.0")
    assert [(v.version, v.label) for v in platform.registry.list_versions("recommendation")] == [
        (1, "1.0.0"), (2, "1.1.0")]
    return platform


def test_deploy_model_deploys_the_upload_by_its_label(guide_world):
    dag = load_dag("model_deployment")
    dag.get_task("bake").poke_interval = 1
    # the guide's payload plus the form's strategy: its default canary bakes for minutes of
    # real traffic (test_model_deployment_dag covers the canary)
    run = dag.test(run_conf={**payload("deploy_model"), "strategy": "all_at_once", "bake_minutes": 0})

    assert run.state == "success"
    assert [(v.model_version, v.weight) for v in guide_world.endpoints.describe(ENDPOINT).variants] == [(2, 1.0)]
    assert [(e["version"], e["event"]) for e in guide_world.registry.deployment_history("recommendation")] == [
        (2, "promoted")]


def test_create_test_starts_an_ab_test_of_the_two_labels(guide_world):
    run = load_dag("ab_test").test(run_conf=payload("create_test"), logical_date=at(LAST_DAY),
                                   run_after=at(LAST_DAY))

    assert run.state == "success"
    (test,) = guide_world.abtests.list_tests(RUNNING)
    assert (test.test_name, test.control_version, test.treatment_version, test.traffic_split, test.duration_days) == (
        "recommendation_v1_vs_v2", 1, 2, 50, 14)
    assert sorted(test.success_metrics) == ["recommendation_accuracy", "user_satisfaction"]
    assert sorted(v.model_version for v in guide_world.endpoints.describe(ENDPOINT).variants) == [1, 2]


def test_analyze_test_analyses_that_one_test_on_demand(guide_world):
    request = lifecycle.TestRequest("recommendation_v1_vs_v2", "recommendation", 1, 2, 50, 14,
                                      ["recommendation_accuracy"], [], 0.05)
    test = lifecycle.plan_test(guide_world, request, "your-test-id", LAST_DAY)
    lifecycle.start_test(guide_world, test)

    run = load_dag("ab_test_analysis").test(run_conf=payload("analyze_test"), logical_date=at(LAST_DAY),
                                            run_after=at(LAST_DAY + timedelta(days=1)))

    assert run.state == "success"
    assert guide_world.store.exists(f"abtests/your-test-id/dt={LAST_DAY}/analysis.json")


def test_analyze_test_of_an_unknown_test_fails_naming_the_tests(guide_world):
    run = load_dag("ab_test_analysis").test(run_conf=payload("analyze_test"), logical_date=at(LAST_DAY),
                                            run_after=at(LAST_DAY + timedelta(days=1)))
    assert run.state == "failed"


def test_trigger_retraining_retrains_with_the_guides_reason(guide_world):
    dag = load_dag("model_retraining")
    dag.get_task("train").poll_interval = 0.2

    run = dag.test(run_conf=payload("trigger_retraining"), logical_date=at(LAST_DAY + timedelta(days=1)),
                   run_after=at(LAST_DAY + timedelta(days=1)))

    assert run.state == "success"
    newest = guide_world.registry.list_versions("recommendation")[-1]
    assert (newest.version, newest.label, newest.reason) == (3, "1.2.0", "Performance degradation detected")


@pytest.mark.parametrize("action, dag_id, right_dag", [
    ("deploy_model", "ab_test", "model_deployment"),
    ("create_test", "model_deployment", "ab_test"),
    ("trigger_retraining", "ab_test_analysis", "model_retraining"),
    ("analyze_test", "model_retraining", "ab_test_analysis"),
])
def test_a_payload_sent_to_another_dag_is_refused_naming_the_right_one(airflow_db, action, dag_id, right_dag):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError) as refused:
        load_dag(dag_id).test(run_conf=payload(action))
    # the message prints the Param's schema, its long strings split over lines
    message = re.sub(r"""["']\s*\n\s*["']""", "", str(refused.value))
    assert "is not one of [None, '" in message and f"{action} → trigger {right_dag}" in message
