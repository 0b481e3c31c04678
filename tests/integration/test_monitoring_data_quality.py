"""Captured features that no longer match the reference profile (a column gone, numbers
turned to text) are a data-quality finding of the day, alerted and kept out of the retrain
policy: not drift, and not a crash."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pandas as pd
import pytest
from simulation import read_alerts
from test_model_monitoring_dag import FIRST, live_sentiment, monitoring_dag, run_day  # noqa: F401 (fixtures)

from findining_mlops.monitoring import analysis as monitoring
from findining_mlops.store.layout import baseline_prefix, monitoring_report_key

pytestmark = pytest.mark.slow
REFERENCE = f"{baseline_prefix('sentiment', 1)}/reference.parquet"


def rewrite_reference(platform, change) -> None:
    reference = pd.read_parquet(io.BytesIO(platform.store.read_bytes(REFERENCE)))
    buffer = io.BytesIO()
    change(reference).to_parquet(buffer, index=False)
    platform.store.write_bytes(REFERENCE, buffer.getvalue())


def decision_of(platform, day) -> dict:
    return json.loads(platform.store.read_bytes(monitoring_report_key("sentiment", day, "decision.json")))


def test_a_column_of_another_kind_is_a_data_quality_finding_and_an_alert(monitoring_dag, live_sentiment, platform,
                                                                         home):
    # the reference holds the predicted label as numbers, the day's capture as text
    rewrite_reference(platform, lambda ref: ref.assign(prediction=ref["prediction"].astype("category").cat.codes))
    assert run_day(monitoring_dag, FIRST).state == "success"
    decision = decision_of(platform, FIRST)
    assert decision["outcome"] == "data_quality" and decision["retrain"] is False
    [finding] = decision["data_quality"]
    assert "'prediction'" in finding and "numbers" in finding and "text" in finding
    assert finding.startswith("v1 (1.0.0): ")  # the version by number and label
    assert "dataset_drift" not in [r["rule"] for r in decision["rules"]]
    alert = next(a for a in read_alerts(home) if "data_quality" in a["Subject"])
    assert "'prediction'" in alert["Message"] and "v1 (1.0.0): " in alert["Message"]


def test_a_reference_column_missing_from_the_capture_is_not_drift(live_sentiment, platform, monkeypatch):
    module = live_sentiment.code.monitoring
    # the version was profiled on a column the app no longer sends
    monkeypatch.setattr(module, "DRIFT_NUMERICAL", [*module.DRIFT_NUMERICAL, "star_rating"])
    rewrite_reference(platform, lambda ref: ref.assign(star_rating=4.0))
    days = [FIRST, FIRST + timedelta(days=1)]
    decisions = [monitoring.decide(platform, live_sentiment, day, monitoring.analyze_day(platform, live_sentiment, day))
                 for day in days]
    for decision in decisions:
        assert decision["outcome"] == "data_quality" and decision["retrain"] is False
        assert "'star_rating'" in decision["data_quality"][0]
        assert "'star_rating'" in decision["suppressed_by"]
    drift = json.loads(platform.store.read_bytes(monitoring_report_key("sentiment", FIRST, "drift.json")))
    assert drift["outcome"] == "data_quality" and "'star_rating'" in drift["data_quality"][0]
