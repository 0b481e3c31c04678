"""The model_monitoring DAG through Airflow (``dag.test``): reports, decisions, the
retraining trigger, idempotent backfills and every validation outcome with its alert."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from simulation import SENTIMENT, bootstrap, load_dag, read_alerts

from devtools.traffic import replay_day
from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import ScenarioPlan, generate
from findining_mlops.store.layout import monitoring_report_key

pytestmark = pytest.mark.slow
START = date(2026, 10, 1)
FIRST = START + timedelta(days=8)
REPORTS = ("drift.json", "performance.json", "decision.json")


@pytest.fixture
def monitoring_dag(airflow_db, use_catalog):
    use_catalog(sentiment={**SENTIMENT, "monitoring": {"max_performance_drop": 0.08, "cooldown_days": 3,
                                                       "min_rows": 100, "html_sample_size": 300}})
    return load_dag("model_monitoring")


@pytest.fixture
def live_sentiment(platform, monitoring_dag, trained_jobs):
    """A deployed sentiment model and five days of replayed traffic; slang from day 3."""
    generate(platform.store, START, 13, seed=8, scenario=ScenarioPlan("slang-shift", FIRST + timedelta(days=2)),
             requests_per_day=20, reviews_per_day=150)
    spec = get_model("sentiment")
    bootstrap(platform, spec, FIRST - timedelta(days=1), "bootstrap-sentiment", trained=trained_jobs)
    for offset in range(5):
        replay_day(platform, spec, FIRST + timedelta(days=offset))
    return spec


def run_day(dag, day: date):
    when = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return dag.test(logical_date=when, run_after=when + timedelta(days=1))


def retraining_runs() -> list[str]:
    from airflow.models.dagrun import DagRun

    return sorted(r.run_id for r in DagRun.find(dag_id="model_retraining") if r.run_id.startswith("monitoring__"))



def test_backfill_writes_reports_triggers_once_and_is_byte_identical_when_rerun(monitoring_dag, live_sentiment,
                                                                                platform, home):
    days = [FIRST + timedelta(days=k) for k in range(5)]

    def backfill() -> dict[str, bytes]:
        for day in days:
            assert run_day(monitoring_dag, day).state == "success"
        return {f"{day}/{name}": platform.store.read_bytes(monitoring_report_key("sentiment", day, name))
                for day in days for name in REPORTS}

    first = backfill()
    decisions = [json.loads(first[f"{day}/decision.json"]) for day in days]
    # slang from days[2]; the drop is confirmed on its second day
    assert [d["retrain"] for d in decisions] == [False, False, False, True, False]
    assert "performance_drop" in decisions[3]["reason"]
    assert platform.store.exists(monitoring_report_key("sentiment", days[0], "drift.html"))
    drift = json.loads(first[f"{days[0]}/drift.json"])
    assert set(drift["columns"]) == {"text_length", "latin_share", "punctuation_count", "language", "prediction"}
    assert retraining_runs() == [f"monitoring__sentiment__{days[3]}"]
    published = platform.metrics.query("FindDining/ModelMonitoring", "DriftShare",
                                       {"Model": "sentiment", "Version": "1"},
                                       datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert len(published) == 5
    assert any("retraining sentiment" in a["Subject"] for a in read_alerts(home))

    second = backfill()
    assert second == first
    assert retraining_runs() == [f"monitoring__sentiment__{days[3]}"]
    assert len(platform.metrics.query("FindDining/ModelMonitoring", "DriftShare",
                                      {"Model": "sentiment", "Version": "1"},
                                      datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))) == 5


def test_a_day_without_traffic_is_reported_and_alerted_not_a_crash(monitoring_dag, live_sentiment, platform, home):
    quiet = FIRST + timedelta(days=6)  # generated, never replayed
    assert run_day(monitoring_dag, quiet).state == "success"
    decision = json.loads(platform.store.read_bytes(monitoring_report_key("sentiment", quiet, "decision.json")))
    assert decision["outcome"] == "no_traffic" and decision["retrain"] is False
    assert "no captured inferences" in decision["suppressed_by"]
    assert any("no_traffic" in a["Subject"] for a in read_alerts(home))


def test_missing_ground_truth_is_reported_and_alerted(monitoring_dag, live_sentiment, platform, home):
    day = FIRST + timedelta(days=1)
    platform.store.delete_prefix(f"data/reviews/dt={day}/")
    assert run_day(monitoring_dag, day).state == "success"
    decision = json.loads(platform.store.read_bytes(monitoring_report_key("sentiment", day, "decision.json")))
    assert decision["outcome"] == "ground_truth_missing"
    assert [r["rule"] for r in decision["rules"]] == ["dataset_drift", "data_age_days"]  # drift still judged
    alert = next(a for a in read_alerts(home) if "ground_truth_missing" in a["Subject"])
    assert f"data/reviews/dt={day}" in alert["Message"]


def test_malformed_capture_above_the_limit_fails_the_run_naming_the_partition(monitoring_dag, live_sentiment,
                                                                              platform, home):
    day = FIRST
    for key in [k for k in platform.store.list_keys("datacapture/") if f"/{day:%Y/%m/%d}/" in k]:
        lines = platform.store.read_bytes(key).decode().splitlines()
        broken = [line if i % 5 else line[: len(line) // 2] for i, line in enumerate(lines)]  # ~20 % truncated
        platform.store.write_bytes(key, ("\n".join(broken) + "\n").encode())
    assert run_day(monitoring_dag, day).state == "failed"
    [alert] = [a for a in read_alerts(home) if "failed" in a["Subject"]]
    assert f"{day:%Y/%m/%d}" in alert["Message"] and "malformed" in alert["Message"]
    assert not platform.store.exists(monitoring_report_key("sentiment", day, "decision.json"))
