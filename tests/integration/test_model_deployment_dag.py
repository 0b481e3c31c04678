"""The model_deployment DAG through Airflow (``dag.test``) with real traffic during the bake:
a healthy challenger is promoted through every ramp step, faulty ones are rolled back by
the alarm that catches them, and bad requests are refused before the endpoint changes."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from simulation import SENTIMENT, bootstrap, load_dag, read_alerts, reschedules

from devtools.traffic import generate_traffic
from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.serving.server.handlers import inject_faults

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fault_drill_endpoints")]  # the faulty versions are drills
START = date(2026, 10, 1)
ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"


@pytest.fixture
def deployment_dag(airflow_db, use_catalog):
    use_catalog(sentiment={**SENTIMENT, "training_window_days": 6, "holdout_days": 1, "max_regression": 0.05})
    dag = load_dag("model_deployment")
    dag.get_task("bake").poke_interval = 1
    return dag


@pytest.fixture
def two_versions(platform, deployment_dag, trained_jobs):
    """v1 live at 100 %, v2 approved and waiting."""
    generate(platform.store, START, 6, seed=4, requests_per_day=10, reviews_per_day=150)
    spec = get_model("sentiment")
    bootstrap(platform, spec, START + timedelta(days=5), "job-v1", trained=trained_jobs)
    bootstrap(platform, spec, START + timedelta(days=5), "job-v2", trained=trained_jobs)
    assert [v.status for v in platform.registry.list_versions("sentiment")] == ["Approved", "Approved"]
    return spec


def faulty_version(platform, faults: dict) -> int:
    source = platform.registry.get("sentiment", 2)
    faulty = platform.store.path("uploads/faulty/model.tar.gz")
    faulty.parent.mkdir(parents=True, exist_ok=True)
    inject_faults(platform.store.path(source.artifact_key), faulty, faults)
    version = platform.registry.register("sentiment", "uploads/faulty/model.tar.gz", status="Approved",
                                         metrics=source.metrics, lineage={"drill": faults}, reason="rollback drill",
                                         idempotency_key=json.dumps(faults))
    return version.version


def deploy_under_traffic(dag, platform, spec, conf: dict, when=None):
    stop = threading.Event()
    report = {}
    thread = threading.Thread(target=lambda: report.update(
        generate_traffic(platform, spec, rps=40, duration_s=600, seed=3, day=START, stop=stop).summary()))
    thread.start()
    try:
        run = dag.test(run_conf={"model_name": "sentiment", **conf}, logical_date=when, run_after=when)
    finally:
        stop.set()
        thread.join()
    return run, report



def captured_records(platform) -> int:
    return sum(len(platform.store.read_bytes(k).splitlines())
               for k in platform.store.list_keys(f"datacapture/{ENDPOINT}/"))


def test_a_healthy_challenger_is_promoted_through_every_step(deployment_dag, two_versions, platform):
    conf = {"version": 2, "canary_percent": 10, "ramp": [10, 50, 100], "bake_minutes": 0.1}
    when = datetime(2026, 11, 1, tzinfo=UTC)
    run, traffic = deploy_under_traffic(deployment_dag, platform, two_versions, conf, when)
    assert run.state == "success"
    endpoint = platform.endpoints.describe(ENDPOINT)
    assert [(v.model_version, v.weight) for v in endpoint.variants] == [(2, 1.0)]
    [event] = platform.registry.deployment_history("sentiment")
    assert (event["version"], event["event"]) == (2, "promoted")
    rollout_state = json.loads(platform.store.read_bytes(
        next(k for k in platform.store.list_keys(f"deployments/{ENDPOINT}/") if k.endswith("state.json"))))
    assert [h["percent"] for h in rollout_state["history"]] == [10, 50, 100]
    assert reschedules(run, "bake") == 0  # its looks, a second apart, were made in one process
    # no request lost while the weights changed, and each served one is in data capture
    assert traffic["sent"] == traffic["served"] + traffic["errors"] and traffic["errors"] == 0
    assert set(traffic["per_variant"]) == {"sentiment-v1", "sentiment-v2"}
    assert captured_records(platform) == traffic["served"]

    # the same DAG run again resumes its finished rollout: same endpoint, one promotion
    again = deployment_dag.test(run_conf={"model_name": "sentiment", **conf}, logical_date=when, run_after=when)
    assert again.state == "success" and again.run_id == run.run_id
    assert [(v.model_version, v.weight) for v in platform.endpoints.describe(ENDPOINT).variants] == [(2, 1.0)]
    assert len(platform.registry.deployment_history("sentiment")) == 1


@pytest.mark.parametrize("faults, thresholds, alarm", [
    ({"error_rate": 0.3}, {}, "Invocation5XXErrors"),
    ({"prediction_shift": "constant"}, {}, "PredictionShift"),
    # the seed's 5 s threshold, scaled down so the drill takes seconds
    ({"added_latency_ms": 600}, {"max_model_latency_ms": 300}, "ModelLatency"),
])
def test_a_faulty_challenger_is_rolled_back_by_its_alarm(deployment_dag, two_versions, platform, home, faults,
                                                         thresholds, alarm):
    version = faulty_version(platform, faults)
    run, traffic = deploy_under_traffic(deployment_dag, platform, two_versions,
                                        {"version": version, "canary_percent": 20, "ramp": [20, 100],
                                         "bake_minutes": 0.1, "thresholds": thresholds})
    assert run.state == "success"
    endpoint = platform.endpoints.describe(ENDPOINT)
    assert [(v.model_version, v.weight) for v in endpoint.variants] == [(1, 1.0)]
    rejected = platform.registry.get("sentiment", version)
    assert rejected.status == "Rejected" and alarm in rejected.status_note
    [event] = platform.registry.deployment_history("sentiment")
    assert event["event"] == "rolled_back" and alarm in event["detail"]
    assert any("rolled back" in a["Subject"] and alarm in a["Message"] for a in read_alerts(home))
    assert traffic["sent"] == traffic["served"] + traffic["errors"]


@pytest.mark.parametrize("conf, message", [
    ({"version": 99}, "no version 99"),
    ({"version": 2, "ramp": [50, 10, 100]}, "ramp"),
    ({"version": 2, "canary_percent": 20, "ramp": [10, 100]}, "ramp"),
])
def test_bad_requests_are_refused_before_the_endpoint_changes(deployment_dag, two_versions, platform, home, conf,
                                                              message):
    before = platform.endpoints.describe(ENDPOINT)
    run = deployment_dag.test(run_conf={"model_name": "sentiment", **conf})
    assert run.state == "failed"
    assert platform.endpoints.describe(ENDPOINT) == before
    assert any(message in a["Message"] for a in read_alerts(home))


def test_a_rejected_version_and_an_out_of_range_split_are_refused(deployment_dag, two_versions, platform):
    from airflow.sdk.exceptions import ParamValidationError

    for percent in (0, 150):
        with pytest.raises(ParamValidationError, match="canary_percent"):
            deployment_dag.test(run_conf={"model_name": "sentiment", "version": 2, "canary_percent": percent})
    platform.registry.update_status("sentiment", 2, "Rejected", "failed review")
    before = platform.endpoints.describe(ENDPOINT)
    assert deployment_dag.test(run_conf={"model_name": "sentiment", "version": 2}).state == "failed"
    assert platform.endpoints.describe(ENDPOINT) == before


def test_a_second_deployment_to_a_busy_endpoint_is_refused(deployment_dag, two_versions, platform, home):
    assert platform.endpoints.acquire_deployment_lock(ENDPOINT, "another-run") is None
    before = platform.endpoints.describe(ENDPOINT)
    assert deployment_dag.test(run_conf={"model_name": "sentiment", "version": 2}).state == "failed"
    assert platform.endpoints.describe(ENDPOINT) == before
    assert any("being deployed by run another-run" in a["Message"] for a in read_alerts(home))
    assert platform.endpoints.acquire_deployment_lock(ENDPOINT, "another-run") is None  # still the other run's
