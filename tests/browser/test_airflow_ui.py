"""What a person sees and clicks in the Airflow UI: the login, the DAG list and docs, the trigger
forms with their Param schemas, a backfill from the UI's dialog, a monitoring task's report one
click away, the pipeline's state page, and the reports a viewer may and may not read."""

from __future__ import annotations

import ast
import json
import re
import time
from datetime import timedelta

import pytest
from conftest import LIVE_MODELS, MONITORED_DAY, PROJECT_DAGS, ROOT, cli, log_in, screenshot
from playwright.sync_api import expect

from findining_mlops.config.catalog import get_model, model_names
from findining_mlops.platform.local import local_platform

pytestmark = pytest.mark.slow
RUN_TIMEOUT = 600  # seconds a triggered run may take on a busy 2-core machine


def dag_tags(dag_id: str) -> list[str]:
    """The ``tags=[...]`` of the DAG file, read without importing it."""
    for node in ast.walk(ast.parse((ROOT / "dags" / f"{dag_id}.py").read_text())):
        if isinstance(node, ast.keyword) and node.arg == "tags":
            return ast.literal_eval(node.value)
    raise AssertionError(f"{dag_id} has no tags")


def doc_heading(dag_id: str) -> str:
    """The first heading of the DAG file's docstring (its ``doc_md``)."""
    doc = ast.get_docstring(ast.parse((ROOT / "dags" / f"{dag_id}.py").read_text()))
    return next(line.lstrip("#").strip() for line in doc.splitlines() if line.startswith("#"))


def open_trigger_form(page, dag_id: str):
    page.goto(f"/dags/{dag_id}")
    page.get_by_test_id("trigger-dag-button").first.click()
    dialog = page.get_by_role("dialog").filter(has_text=f"Trigger Dag - {dag_id}")
    expect(dialog).to_be_visible()
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


def submit_run(page, dialog, airflow, dag_id: str) -> str:
    """Submits the form; the id of the run it created."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/dagRuns")) as posted:
        dialog.get_by_test_id("trigger-dag-submit").click()
    assert posted.value.ok, posted.value.text()
    return posted.value.json()["dag_run_id"]


def pick(page, dialog, param: str, option: str) -> None:
    """Chooses ``option`` in the select field of an enum Param."""
    dialog.locator(f"#element_{param}").click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(dialog.locator(f"[name=element_{param}]")).to_have_value(option)


def test_log_in_then_the_dag_list_shows_every_dag_with_its_tags(anonymous_page, airflow):
    page = anonymous_page
    log_in(page, airflow.password)
    page.goto("/dags")
    for dag_id in PROJECT_DAGS:
        card = page.get_by_test_id("dag-card").filter(has=page.get_by_test_id("dag-id").filter(has_text=re.compile(
            rf"^{dag_id}$")))
        expect(card).to_be_visible()
        for tag in dag_tags(dag_id):
            expect(card.get_by_role("link", name=tag, exact=True)).to_be_visible()
    screenshot(page, "1-dag-list")


def test_each_dags_docs_render(page):
    for dag_id in PROJECT_DAGS:
        page.goto(f"/dags/{dag_id}")
        page.get_by_role("button", name="Dag Docs").click()
        docs = page.get_by_role("dialog").last
        expect(docs.get_by_role("heading", name=doc_heading(dag_id))).to_be_visible()
        screenshot(page, f"docs-{dag_id}")
        page.keyboard.press("Escape")


def test_retraining_form_refuses_what_its_schema_refuses_and_retrains_with_the_typed_reason(page, airflow):
    dialog = open_trigger_form(page, "model_retraining")
    for label in ("model_name", "reason", "data_end_date", "training_window_days"):
        expect_field(dialog, label)
    screenshot(page, "1-retraining-form")

    for conf, param in (({"model_name": "nope", "reason": "a model that does not exist"}, "model_name"),
                        ({"model_name": "sentiment", "reason": "too short a window", "training_window_days": 2},
                         "training_window_days")):
        set_conf_json(page, dialog, conf)
        expect_refused(dialog, param)
        screenshot(page, f"2-retraining-refused-{param}")
    assert airflow.runs("model_retraining") == []

    dialog = open_trigger_form(page, "model_retraining")  # a fresh form
    reason = "browser test: reviews read differently since the new menu"
    pick(page, dialog, "model_name", "sentiment")
    dialog.locator("[name=element_reason]").fill(reason)
    dialog.locator("[name=element_data_end_date]").fill(str(MONITORED_DAY - timedelta(days=1)))  # the store's days
    screenshot(page, "3-retraining-filled")
    run_id = submit_run(page, dialog, airflow, "model_retraining")
    assert airflow.wait("model_retraining", [run_id], timeout=RUN_TIMEOUT) == {run_id: "success"}
    page.goto(f"/dags/model_retraining/runs/{run_id}")
    screenshot(page, "4-retraining-succeeded")

    versions = json.loads(cli(airflow, "registry", "list", "--model", "sentiment", "--json"))
    newest = max(versions, key=lambda v: v["version"])
    assert newest["version"] > 1 and reason in newest["reason"], newest


def test_deployment_form_renders_every_param(page, airflow):
    # an approved retraining hands its version over
    before = [r["dag_run_id"] for r in airflow.runs("model_deployment")]
    dialog = open_trigger_form(page, "model_deployment")
    for label in ("model_name", "version", "strategy", "canary_percent", "ramp", "bake_minutes",
                  "insufficient_data_minutes", "thresholds"):
        expect_field(dialog, label)
    set_conf_json(page, dialog, {"model_name": "sentiment", "canary_percent": 0})
    expect_refused(dialog, "canary_percent")
    screenshot(page, "deployment-form-refused")
    assert [r["dag_run_id"] for r in airflow.runs("model_deployment")] == before


def backfill_from_the_dialog(page, dag_id: str, first, last, runs: int) -> None:
    """The DAG page's Trigger → Backfill: the date range (each a date picker), every run
    reprocessed (the decisions depend on the day before), as many at once as there are days."""
    page.goto(f"/dags/{dag_id}")
    page.get_by_test_id("trigger-dag-button").first.click()
    page.get_by_role("dialog").last.get_by_text("Backfill", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text=f"Run Backfill - {dag_id}")
    open_picker_day = page.get_by_placeholder("YYYY/MM/DD").filter(visible=True)
    for field, day in enumerate((first, last)):
        dialog.get_by_test_id("datetime-input").nth(field).click()
        # the open picker's inputs: a closed picker may stay in the page, hidden
        open_picker_day.fill(f"{day:%Y/%m/%d}")
        page.get_by_placeholder("HH:mm").filter(visible=True).fill("00:00")
        dialog.get_by_text("Date Range").click()  # closes the picker
        # it fades out: until it has, the next picker's inputs are not the only visible ones
        expect(open_picker_day).to_have_count(0)
    dialog.get_by_text("All Runs", exact=True).click()
    dialog.locator("input[name=max_active_runs]").fill(str(runs))
    expect(dialog.get_by_text(f"{runs} runs will be triggered.")).to_be_visible()
    screenshot(page, "1-backfill-dialog")
    for _ in range(5):  # on SQLite the API server refuses a backfill while the database is busy: try again
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/backfills")) as posted:
            dialog.get_by_role("button", name="Run Backfill").click()
        if posted.value.ok or "Database is locked" not in posted.value.text():
            break
        time.sleep(2)
    assert posted.value.ok, posted.value.text()


def test_monitoring_backfilled_from_the_dialog_and_a_task_links_to_its_drift_report(page, airflow):
    days = [MONITORED_DAY - timedelta(days=n) for n in (2, 1, 0)]
    backfill_from_the_dialog(page, "model_monitoring", days[0], days[-1], len(days))
    runs = []
    for _ in range(60):  # the backfill's runs, once the API server has created them
        runs = [r for r in airflow.runs("model_monitoring") if r["run_type"] == "backfill"]
        if len(runs) == len(days):
            break
        time.sleep(1)
    states = airflow.wait("model_monitoring", [r["dag_run_id"] for r in runs], timeout=RUN_TIMEOUT)
    assert sorted(r["logical_date"][:10] for r in runs) == [str(d) for d in days]
    assert set(states.values()) == {"success"}, states
    page.goto("/dags/model_monitoring/runs")
    screenshot(page, "2-backfill-runs")
    store = local_platform(airflow.home).store
    for model in LIVE_MODELS:
        for day in days:
            assert store.exists(f"reports/{model}/dt={day}/decision.json"), (model, day)

    [run_id] = [r["dag_run_id"] for r in runs if r["logical_date"].startswith(str(MONITORED_DAY))]
    map_index = model_names().index("sentiment")
    page.goto(f"/dags/model_monitoring/runs/{run_id}/tasks/analyze/mapped/{map_index}/details")
    reports = page.get_by_role("link", name="Reports")
    expect(reports).to_be_visible()
    screenshot(page, "3-monitoring-task")
    # the link opens a new tab in a person's browser; here the same page follows it
    page.goto(reports.get_attribute("href"))
    drift_report = page.get_by_role("link", name=re.compile(r"drift\.html$"))
    expect(drift_report).to_be_visible()
    screenshot(page, "4-report-folder")
    drift_report.click()
    # Evidently's report renders its per-column drift table with scripts
    expect(page.get_by_text("Data Drift Summary")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("text_length").first).to_be_visible()
    screenshot(page, "5-drift-report")


def test_ab_test_form_refuses_a_split_of_0_and_100_and_starts_a_30_percent_test(page, airflow):
    dialog = open_trigger_form(page, "ab_test")
    for label in ("test_name", "model_name", "control_version", "treatment_version", "traffic_split",
                  "duration_days", "success_metrics"):
        expect_field(dialog, label)
    for split in (0, 100):
        set_conf_json(page, dialog, {"test_name": "refused split", "model_name": "recommendation",
                                     "control_version": 1, "treatment_version": 2, "traffic_split": split})
        expect_refused(dialog, "traffic_split")
        screenshot(page, f"1-ab-test-refused-{split}")
    assert airflow.runs("ab_test") == []

    dialog = open_trigger_form(page, "ab_test")
    name = "browser ranker v1 vs v2"
    dialog.locator("[name=element_test_name]").fill(name)
    pick(page, dialog, "model_name", "recommendation")
    dialog.locator("[name=element_traffic_split]").fill("30")
    screenshot(page, "2-ab-test-filled")
    run_id = submit_run(page, dialog, airflow, "ab_test")
    assert airflow.wait("ab_test", [run_id], timeout=RUN_TIMEOUT) == {run_id: "success"}

    [test] = [t for t in json.loads(cli(airflow, "abtest", "list", "--json")) if t["test_name"] == name]
    assert (test["model_name"], test["control_version"], test["treatment_version"], test["traffic_split"],
            test["status"]) == ("recommendation", 1, 2, 30, "running")
    assert test["test_id"] in cli(airflow, "abtest", "list")


def test_the_state_page_shows_both_models_live_versions(page, airflow):
    page.goto("/")
    page.get_by_test_id("nav-sidebar").get_by_text("Plugins").click()
    entry = page.get_by_role("menuitem", name="Pipeline state")
    expect(entry).to_be_visible()
    screenshot(page, "1-plugins-menu")
    page.goto(entry.get_attribute("href") or entry.locator("a").get_attribute("href"))  # a new tab for a person
    expect(page.get_by_role("heading", name="Find Dining pipeline state")).to_be_visible()
    platform = local_platform(airflow.home)
    live = page.get_by_role("table").first
    for model in LIVE_MODELS:
        endpoint = platform.endpoints.describe(get_model(model).endpoint_name)
        serving = max(endpoint.variants, key=lambda v: v.weight)
        row = live.get_by_role("row").filter(has=page.get_by_role("cell", name=model, exact=True))
        expect(row.get_by_role("cell", name=platform.registry.get(model, serving.model_version).display,
                               exact=True)).to_be_visible()
    screenshot(page, "2-state-page")


CUSTOMER_TEXT = "browser test: the waiter ignored us for forty minutes"
ALERT_TEXT = "browser test: rollback of sentiment"


def test_a_viewer_reads_the_monitoring_reports_but_not_customer_feedback_or_alerts_an_admin_reads_all(
        viewer_page, page, airflow):
    platform = local_platform(airflow.home)
    monitoring = f"reports/sentiment/dt={MONITORED_DAY}/roles.html"
    feedback = f"reports/feedback/dt={MONITORED_DAY}/digest.html"
    archived_alert = f"reports/alerts/dt={MONITORED_DAY}/120000000000-roles.json"  # as the aws adapter archives
    platform.store.write_bytes(monitoring, b"<html><h1>Drift of the day</h1></html>")
    platform.store.write_bytes(feedback, f"<html><p>{CUSTOMER_TEXT}</p></html>".encode())
    platform.store.write_bytes(archived_alert, json.dumps({"Message": ALERT_TEXT}).encode())
    platform.notifications.publish("[Find Dining MLOps] browser test", ALERT_TEXT)  # the state page's alerts

    viewer = viewer_page
    viewer.goto("/findining/files/reports/")
    expect(viewer.get_by_role("link", name="reports/sentiment/")).to_be_visible()
    for hidden in ("reports/feedback/", "reports/alerts/"):
        expect(viewer.get_by_role("link", name=hidden)).to_have_count(0)
    screenshot(viewer, "1-viewer-reports")
    assert viewer.goto(f"/findining/files/{monitoring}").ok
    expect(viewer.get_by_role("heading", name="Drift of the day")).to_be_visible()
    for refused in (feedback, archived_alert, "reports/feedback/"):  # by URL, as if the link were known
        response = viewer.goto(f"/findining/files/{refused}")
        assert response.status == 403, (refused, response.status)
        assert CUSTOMER_TEXT not in viewer.content() and ALERT_TEXT not in viewer.content()
    screenshot(viewer, "2-viewer-refused")
    viewer.goto("/findining/state")
    expect(viewer.get_by_role("heading", name="Find Dining pipeline state")).to_be_visible()
    assert ALERT_TEXT not in viewer.content()

    page.goto("/findining/files/reports/")
    expect(page.get_by_role("link", name="reports/feedback/")).to_be_visible()
    for url, text in ((f"/findining/files/{feedback}", CUSTOMER_TEXT),
                      (f"/findining/files/{archived_alert}", ALERT_TEXT), ("/findining/state", ALERT_TEXT)):
        assert page.goto(url).ok, url
        expect(page.get_by_text(text).first).to_be_visible()
    screenshot(page, "3-admin-reads-feedback")
