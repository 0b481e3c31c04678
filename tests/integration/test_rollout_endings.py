"""Every end of a canary rollout other than promotion — too little traffic to judge, a bake
that times out, a task that fails mid-rollout — leaves the champion at 100 %, the reason in
the deployment history, an alert, and the endpoint's deployment lock free."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from simulation import SENTIMENT, bootstrap, load_dag, read_alerts

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.deployment import rollout as deployment
from findining_mlops.errors import DataValidationError

pytestmark = pytest.mark.slow
START = date(2026, 10, 1)
ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"
# no traffic is sent during these rollouts: the alarms never get enough requests to judge
QUIET_ROLLOUT = {"model_name": "sentiment", "version": 2, "canary_percent": 10, "ramp": [10, 100],
                 "bake_minutes": 0.01}


@pytest.fixture
def deployment_dag(airflow_db, use_catalog):
    use_catalog(sentiment={**SENTIMENT, "training_window_days": 6, "holdout_days": 1, "max_regression": 0.05})
    dag = load_dag("model_deployment")
    dag.get_task("bake").poke_interval = 0.2
    return dag


@pytest.fixture
def two_versions(platform, deployment_dag, trained_jobs):
    """v1 live at 100 %, v2 approved and waiting."""
    generate(platform.store, START, 6, seed=4, requests_per_day=10, reviews_per_day=150)
    spec = get_model("sentiment")
    bootstrap(platform, spec, START + timedelta(days=5), "job-v1", trained=trained_jobs)
    bootstrap(platform, spec, START + timedelta(days=5), "job-v2", trained=trained_jobs)
    return spec


def served(platform) -> list[tuple[int, float]]:
    return [(v.model_version, v.weight) for v in platform.endpoints.describe(ENDPOINT).variants]


def assert_champion_restored(platform, home, reason: str) -> None:
    assert served(platform) == [(1, 1.0)]
    [event] = platform.registry.deployment_history("sentiment")
    assert (event["version"], event["event"]) == (2, "rolled_back") and reason in event["detail"]
    assert any("canary rolled back: sentiment v2 (1.1.0)" in a["Subject"] and reason in a["Message"]
               for a in read_alerts(home))
    assert platform.endpoints.acquire_deployment_lock(ENDPOINT, "the next rollout") is None  # released


def test_a_bake_that_never_gets_enough_traffic_rolls_back_after_its_own_limit(deployment_dag, two_versions, platform,
                                                                              home):
    deployment_dag.get_task("bake").timeout = 120  # a bound for the test: the limit is 1.8 s
    run = deployment_dag.test(run_conf={**QUIET_ROLLOUT, "insufficient_data_minutes": 0.03})
    assert run.state == "success"
    assert_champion_restored(platform, home, "insufficient data")
    [event] = platform.registry.deployment_history("sentiment")
    assert "min_requests" in event["detail"]  # what the alarms lacked
    assert platform.registry.get("sentiment", 2).status == "Approved"  # nothing was found wrong with it


def test_a_bake_that_times_out_restores_the_champion(deployment_dag, two_versions, platform, home):
    deployment_dag.get_task("bake").timeout = 2  # seconds; the insufficient-data limit (60 min) is far away
    run = deployment_dag.test(run_conf=QUIET_ROLLOUT)
    assert run.state == "failed"
    assert_champion_restored(platform, home, "bake failed")


def test_a_task_failing_mid_rollout_restores_the_champion(deployment_dag, two_versions, platform, home, monkeypatch):
    shape_at_failure = []

    def unreachable(*args, **kwargs):
        shape_at_failure.append(sorted(served(platform)))
        raise ConnectionError("the endpoint service is unreachable")

    monkeypatch.setattr(deployment, "bake", unreachable)
    deployment_dag.get_task("bake").retries = 0
    run = deployment_dag.test(run_conf=QUIET_ROLLOUT)
    assert run.state == "failed"
    assert shape_at_failure == [[(1, 90.0), (2, 10.0)]]  # it failed half rolled out
    assert_champion_restored(platform, home, "bake failed")


def test_the_insufficient_data_limit_comes_from_the_form_the_model_or_the_default(two_versions, platform):
    def limit(spec, bake_minutes, insufficient_data_minutes=None) -> float:
        return deployment.plan(platform, spec, 2, "canary", 10, [10, 100], bake_minutes, "planned",
                               insufficient_data_minutes).insufficient_data_minutes

    assert limit(two_versions, 10) == 60 and limit(two_versions, 45) == 90  # at least twice the bake
    assert limit(two_versions, 10, 15) == 15
    assert limit(replace(two_versions, deployment={"insufficient_data_minutes": 30}), 10) == 30
    with pytest.raises(DataValidationError,
                       match="insufficient_data_minutes 5 must be > 0 and at least bake_minutes 30"):
        limit(two_versions, 30, 5)
