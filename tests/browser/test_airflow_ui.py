"""What a person sees and clicks in the Airflow UI: the trigger forms with their Param
schemas, and a monitoring task's report one click away."""

from __future__ import annotations

import json
import re

import pytest
from conftest import MONITORED_DAY, screenshot
from playwright.sync_api import expect

from findining_mlops.catalog import model_names
from findining_mlops.tools.airflow_client import wait_for_backfill_day

pytestmark = pytest.mark.slow


def open_trigger_form(page, dag_id: str):
    page.goto(f"/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog").last
    expect(dialog.get_by_text(f"Trigger Dag - {dag_id}")).to_be_visible()
    return dialog


def expect_field(dialog, param: str) -> None:
    """The form shows a field labelled with the Param's name."""
    expect(dialog.locator("label", has_text=re.compile(rf"^{param}\b"))).to_be_visible()


def set_conf_json(page, dialog, conf: dict) -> None:
    """Replaces the form's "Configuration JSON" (a Monaco editor) with ``conf``."""
    advanced = dialog.get_by_role("button", name="Advanced Options")
    if advanced.get_attribute("aria-expanded") != "true":
        advanced.click()
    dialog.locator(".monaco-editor .view-lines").last.click()  # after the Params' own JSON fields
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(json.dumps(conf))


def expect_refused(dialog, param: str) -> None:
    """Submitting is refused: the form disables Trigger for a value it checks itself, or shows
    the API server's schema error for the Param."""
    submit = dialog.get_by_test_id("trigger-dag-submit")
    if submit.is_enabled():
        submit.click()
    refused = dialog.get_by_text(f"Invalid input for param {param}").or_(
        dialog.locator('[data-testid="trigger-dag-submit"]:disabled'))
    expect(refused.first).to_be_visible()


def test_retraining_form_refuses_a_value_its_schema_refuses_and_triggers_a_good_one(page, airflow):
    dialog = open_trigger_form(page, "model_retraining")
    for label in ("model_name", "reason", "data_end_date", "training_window_days"):
        expect_field(dialog, label)
    # the number field keeps to the schema's minimum of 4 days
    window = dialog.locator("[name=element_training_window_days]")
    window.fill("2")
    window.press("Tab")
    expect(window).to_have_value("4")
    screenshot(page, "1-retraining-form")

    set_conf_json(page, dialog, {"model_name": "nope", "reason": "a model that does not exist"})
    expect_refused(dialog, "model_name")
    screenshot(page, "2-retraining-refused")
    assert airflow.runs("model_retraining") == []

    set_conf_json(page, dialog, {"model_name": "sentiment", "reason": "browser test", "training_window_days": 7})
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/dagRuns")) as posted:
        dialog.get_by_test_id("trigger-dag-submit").click()
    assert posted.value.ok, posted.value.text()
    screenshot(page, "3-retraining-triggered")
    [run] = airflow.runs("model_retraining")
    assert {k: run["conf"].get(k) for k in ("model_name", "reason", "training_window_days")} == \
        {"model_name": "sentiment", "reason": "browser test", "training_window_days": 7}, run["conf"]


def test_deployment_form_renders_every_param(page, airflow):
    dialog = open_trigger_form(page, "model_deployment")
    for label in ("model_name", "version", "strategy", "canary_percent", "ramp", "bake_minutes",
                  "insufficient_data_minutes", "thresholds"):
        expect_field(dialog, label)
    set_conf_json(page, dialog, {"model_name": "sentiment", "canary_percent": 0})
    expect_refused(dialog, "canary_percent")
    screenshot(page, "deployment-form-refused")
    assert airflow.runs("model_deployment") == []


def test_a_monitoring_task_links_to_its_drift_report(page, airflow):
    backfill = airflow.backfill("model_monitoring", MONITORED_DAY, MONITORED_DAY)
    assert wait_for_backfill_day(airflow, "model_monitoring", MONITORED_DAY, backfill["id"], timeout=300) == "success"
    [run_id] = [r["dag_run_id"] for r in airflow.runs("model_monitoring") if r["run_type"] == "backfill"]

    map_index = model_names().index("sentiment")
    page.goto(f"/dags/model_monitoring/runs/{run_id}/tasks/analyze/mapped/{map_index}/details")
    reports = page.get_by_role("link", name="Reports")
    expect(reports).to_be_visible()
    screenshot(page, "1-monitoring-task")
    # the link opens a new tab in a person's browser; here the same page follows it
    page.goto(reports.get_attribute("href"))
    drift_report = page.get_by_role("link", name=re.compile(r"drift\.html$"))
    expect(drift_report).to_be_visible()
    screenshot(page, "2-report-folder")
    drift_report.click()
    # Evidently's report renders its per-column drift table with scripts
    expect(page.get_by_text("Data Drift Summary")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("text_length").first).to_be_visible()
    screenshot(page, "3-drift-report")

