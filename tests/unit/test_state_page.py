"""The state page: per model the live version and its split, 30 days of monitoring with the
retraining decisions, running A/B tests with their current interval, recent alerts; read only
through the platform's ports, served by the reports view at /state."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from simulation import bootstrap

from findining_airflow.report_views import create_app
from findining_mlops.config.catalog import get_model
from findining_mlops.platform.ports import ABTest, ProductionVariant
from findining_mlops.registry.variants import variant_name

LAST = date(2026, 10, 10)


@pytest.fixture
def pipeline(small_data, trained_jobs):
    """Sentiment v1 and v2 on its endpoint at 70/30, 35 monitored days, an A/B test, two alerts."""
    platform = small_data
    spec = replace(get_model("sentiment"), training_window_days=5, holdout_days=1, validation_days=1)
    first = bootstrap(platform, spec, LAST - timedelta(days=1), "state-v1", trained=trained_jobs)
    second = bootstrap(platform, spec, LAST - timedelta(days=1), "state-v2", reason="drift", trained=trained_jobs)
    platform.endpoints.deploy(spec.endpoint_name, [
        ProductionVariant(variant_name(v), v.model_name, v.version, v.artifact_uri, w)
        for v, w in ((first, 70.0), (second, 30.0))])
    for back in range(35):
        day = LAST - timedelta(days=back)
        prefix = f"reports/sentiment/dt={day}"
        platform.store.write_bytes(f"{prefix}/drift.json", json.dumps(
            {"drift_share": back / 100, "columns": {"text_length": {"drifted": back == 3}}}).encode())
        platform.store.write_bytes(f"{prefix}/performance.json", json.dumps({"current": {"macro_f1": 0.8}}).encode())
        platform.store.write_bytes(f"{prefix}/decision.json", json.dumps(
            {"retrain": back == 3, "outcome": "retrain" if back == 3 else "quiet",
             "reason": "dataset drift 2 days in a row"}).encode())
    test = ABTest("t-1", "shorter <names>", "sentiment", spec.endpoint_name, first.version, second.version,
                  variant_name(first), variant_name(second), 30, 14, {"sentiment_accuracy": {}}, {}, 0.05,
                  str(LAST - timedelta(days=1)))
    platform.abtests.create(test)
    platform.store.write_bytes(f"abtests/t-1/dt={LAST}/analysis.json", json.dumps(
        {"day": str(LAST), "day_number": 2, "decision": "continue", "outcome": "running",
         "users": {"control": 70, "treatment": 30},
         "metrics": {"sentiment_accuracy": {"control": {"mean": 0.8}, "treatment": {"mean": 0.812}, "difference": 0.012,
                                            "ci_low": -0.031, "ci_high": 0.055, "sequential_p_value": 0.6,
                                            "significant": False}}}).encode())
    platform.notifications.publish("older alert", "first")
    platform.notifications.publish("[Find Dining MLOps] model_monitoring failed: analyze",
                                   "DAG: model_monitoring\nRun: r1")
    return platform, first, second


def cells(page: str, row_start: str) -> list[str]:
    """The cells of the table row that begins with ``row_start``."""
    row = re.search(rf"<tr><td>{re.escape(row_start)}</td>(.*?)</tr>", page).group(1)
    return re.findall(r"<td[^>]*>(.*?)</td>", row)


def test_the_state_page_shows_each_models_live_version_and_split_history_tests_and_alerts(pipeline):
    platform, first, second = pipeline
    response = TestClient(create_app(lambda: platform)).get("/state")
    assert response.status_code == 200 and "sandbox" in response.headers["content-security-policy"]
    page = response.text

    endpoint, live, split = cells(page, "sentiment")
    assert live == first.display == "v1 (1.0.0)"
    assert split == f"{first.display}: 70 %, {second.display}: 30 %"
    assert cells(page, "recommendation")[1:] == ["none", "no endpoint"]

    # the last 30 monitored days, each linked to its reports; the retraining marked
    links = [unquote(href) for href in re.findall(r'<a href="([^"]+)">', page)]
    days = [m.group(1) for h in links if (m := re.fullmatch(r"/findining/files/reports/sentiment/dt=(.+)/", h))]
    assert days == [str(LAST - timedelta(days=back)) for back in range(29, -1, -1)]
    assert page.count("RETRAIN: dataset drift 2 days in a row") == 1
    assert '"type":"date"' in page.replace(" ", "") and '"dtick":86400000' in page.replace(" ", "")

    test_row = cells(page, "shorter &lt;names&gt; (t-1)")
    assert test_row[:4] == ["sentiment", first.display, second.display, "30"]
    assert test_row[5:9] == [f"{LAST} (day 2)", "sentiment_accuracy", "0.012", "[-0.031, +0.055]"]

    alerts = page[page.index("Recent alerts"):]
    assert alerts.index("model_monitoring failed: analyze") < alerts.index("older alert")  # newest first
    assert "DAG: model_monitoring\nRun: r1" in alerts


def test_the_index_links_the_state_page(platform):
    assert '<a href="/findining/state">Pipeline state</a>' in TestClient(create_app(lambda: platform)).get("/").text


def test_the_demo_summary_page_has_html_tables_not_a_text_dump(pipeline):
    from devtools.demo_summary import demo_summary

    platform, first, _ = pipeline
    summary = demo_summary(platform, [LAST - timedelta(days=1), LAST], LAST, {"sentiment": {"sent": 5, "errors": 0}},
                           {}, {"bootstrap": 1.0}, ab_test_id="t-1")
    page = summary.html_path.read_text()
    assert "<pre>" not in page
    assert cells(page, "sentiment")[:2] == [first.display, "Approved"]  # the registry table
    # the monitoring table: day, drift share, drifted columns, macro-F1, decision
    assert f"<tr><td>{LAST}</td><td>0</td><td></td><td>0.8</td><td>ok</td></tr>" in page
    assert "Model registry:" in summary.text and "A/B test shorter <names> (t-1)" in summary.text
