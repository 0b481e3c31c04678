"""A monitored day is judged against the version(s) that served it, read from the day's
data capture: a backfill after a newer version was promoted rewrites the same bytes, and a
day two versions served (a canary) is judged per version, each against its own baseline
and its own evaluation."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from simulation import SENTIMENT, bootstrap, load_dag

from devtools.traffic import replay_day
from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.models.sentiment import monitoring as sentiment_monitoring
from findining_mlops.monitoring import analysis as monitoring
from findining_mlops.monitoring.decision import MonitoringPolicy
from findining_mlops.monitoring.drift import detect_drift
from findining_mlops.platform.ports import ProductionVariant
from findining_mlops.registry.variants import variant_name
from findining_mlops.store.layout import baseline_prefix, monitoring_report_key

pytestmark = pytest.mark.slow
START = date(2026, 10, 1)
SERVED_BY_V1 = START + timedelta(days=8)
CANARY_DAY = START + timedelta(days=9)
REPORTS = ("drift.json", "performance.json", "decision.json")


@pytest.fixture
def sentiment(platform, airflow_db, use_catalog, trained_jobs):
    """v1 trained on data up to day 5 and live; v2 trained on data up to day 7, registered,
    not deployed; day 8 served by v1 alone."""
    use_catalog(sentiment={**SENTIMENT, "training_window_days": 6, "holdout_days": 1,
                           "monitoring": {"min_rows": 20, "html_sample_size": 100}})
    generate(platform.store, START, 10, seed=8, requests_per_day=20, reviews_per_day=150)
    spec = get_model("sentiment")
    bootstrap(platform, spec, START + timedelta(days=5), "job-v1", trained=trained_jobs)
    replay_day(platform, spec, SERVED_BY_V1)
    bootstrap(platform, spec, START + timedelta(days=7), "job-v2", trained=trained_jobs)
    return spec


def deploy(platform, spec, weights: dict[int, float], run: str) -> None:
    variants = []
    for version, weight in weights.items():
        registered = platform.registry.get(spec.name, version)
        variants.append(ProductionVariant(variant_name(registered), spec.name, version,
                                          registered.artifact_uri, weight))
    platform.endpoints.deploy(spec.endpoint_name, variants)
    if list(weights.values()) == [1.0]:
        platform.registry.record_deployment(spec.name, next(iter(weights)), spec.endpoint_name, "promoted", "test", run)


def reports(platform, day: date) -> dict[str, bytes]:
    return {name: platform.store.read_bytes(monitoring_report_key("sentiment", day, name)) for name in REPORTS}


def test_a_backfill_after_a_promotion_rewrites_the_same_bytes(sentiment, platform):
    dag = load_dag("model_monitoring")
    when = datetime(SERVED_BY_V1.year, SERVED_BY_V1.month, SERVED_BY_V1.day, tzinfo=UTC)
    assert dag.test(logical_date=when, run_after=when + timedelta(days=1)).state == "success"
    first = reports(platform, SERVED_BY_V1)
    assert json.loads(first["decision.json"])["live_version"] == 1

    deploy(platform, sentiment, {2: 1.0}, "promote-v2")  # v2 now serves everything
    backfill = dag.test(logical_date=when, run_after=when + timedelta(days=30))
    assert backfill.state == "success"
    assert reports(platform, SERVED_BY_V1) == first


def test_a_day_served_by_two_versions_is_judged_per_version(sentiment, platform):
    deploy(platform, sentiment, {1: 0.5, 2: 0.5}, "canary")
    replay_day(platform, sentiment, CANARY_DAY)

    analysis = monitoring.analyze_day(platform, sentiment, CANARY_DAY)
    drift = json.loads(platform.store.read_bytes(monitoring_report_key("sentiment", CANARY_DAY, "drift.json")))
    performance = json.loads(platform.store.read_bytes(
        monitoring_report_key("sentiment", CANARY_DAY, "performance.json")))
    captured = monitoring.load_capture(platform, sentiment, CANARY_DAY,
                                       MonitoringPolicy.for_model(sentiment))
    served = {int(variant.rsplit("-v", 1)[1]): rows for variant, rows in captured.per_variant.items()}
    assert set(served) == {1, 2} and all(rows > 0 for rows in served.values())

    assert set(drift["per_version"]) == set(performance["per_version"]) == {"1", "2"}
    columns = sentiment_monitoring.DRIFT_NUMERICAL + sentiment_monitoring.DRIFT_CATEGORICAL
    for version, rows in served.items():
        reference = pd.read_parquet(io.BytesIO(platform.store.read_bytes(
            f"{baseline_prefix('sentiment', version)}/reference.parquet")))
        own = captured.rows[captured.rows["variant"] == f"sentiment-v{version}"]
        expected = detect_drift(reference[columns], own[columns], sentiment_monitoring.DRIFT_NUMERICAL,
                                sentiment_monitoring.DRIFT_CATEGORICAL)
        judged = drift["per_version"][str(version)]
        assert (judged["current_rows"], judged["reference_rows"]) == (rows, len(reference))
        assert judged["drift_share"] == pytest.approx(expected.drift_share)
        evaluation = platform.registry.get("sentiment", version).metrics["macro_f1"]
        scored = performance["per_version"][str(version)]
        assert scored["reference_value"] == evaluation
        assert scored["current"]["labelled_rows"] == rows
        assert scored["drop"] == pytest.approx(evaluation - scored["current"]["macro_f1"])

    # the day's decision is about the version that served most of it, with its own data age
    busiest = max(served, key=lambda v: (served[v], v))
    decision = monitoring.decide(platform, sentiment, CANARY_DAY, analysis)
    assert analysis["live_version"] == drift["live_version"] == decision["live_version"] == busiest
    assert drift["live_version_display"] == performance["live_version_display"] == f"v{busiest} (1.{busiest - 1}.0)"
    age = next(r for r in decision["rules"] if r["rule"] == "data_age_days")
    assert age["value"] == (CANARY_DAY - (START + timedelta(days=5 if busiest == 1 else 7))).days
