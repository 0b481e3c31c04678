"""The reports view: serves reports/ and abtests/ from the store, nothing else, to logged-in users,
each report only to the Airflow roles that may read its kind."""

import pytest
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from fastapi import HTTPException
from fastapi.testclient import TestClient

from findining_airflow.report_access import (
    ALL_KINDS,
    Permission,
    ReportKind,
    airflow_access,
    allowed_kinds,
    kind_of,
    permissions_of,
)
from findining_airflow.report_views import create_app

CUSTOMER_TEXT = "the waiter ignored us for forty minutes"
ALERT_TEXT = "rollback of sentiment v3: error rate 0.4"
FEEDBACK_DIGEST = "reports/feedback/dt=2026-10-05/digest.html"
ALERT_ARCHIVE = "reports/alerts/dt=2026-10-05/101500000000-m1.json"
DEMO_SUMMARY = "reports/demo/summary.html"
VIEWER_KINDS = frozenset({ReportKind.MONITORING, ReportKind.AB_TEST, ReportKind.DEPLOYMENT, ReportKind.STATE})


@pytest.fixture
def store(platform):
    store = platform.store
    store.write_bytes("reports/sentiment/dt=2026-10-05/drift.html", b"<html><table>drift</table></html>")
    store.write_bytes("reports/sentiment/dt=2026-10-05/decision.json", b'{"retrain": false}')
    store.write_bytes("abtests/t1/dt=2026-10-05/report.html", b"<html>ab</html>")
    store.write_bytes("abtests/t1/dt=2026-10-06/report.html", b"<html>ab 2</html>")
    store.write_bytes("abtests/t1/test.json", b'{"test_id": "t1"}')
    store.write_bytes("abtests/t1/events/dt=2026-10-05/part-0.parquet", b"user u1 saw the treatment")
    store.write_bytes(FEEDBACK_DIGEST, f"<html>{CUSTOMER_TEXT}</html>".encode())
    store.write_bytes(ALERT_ARCHIVE, f'{{"Message": "{ALERT_TEXT}"}}'.encode())
    store.write_bytes(DEMO_SUMMARY, f"<html>{ALERT_TEXT}</html>".encode())
    platform.notifications.publish("[Find Dining MLOps] rollback", ALERT_TEXT)
    store.write_bytes("models/sentiment/1/model.tar.gz", b"secret weights")
    (store.root.parent / "outside.txt").write_text("outside the store")
    return store


@pytest.fixture
def client(platform, store):
    return TestClient(create_app(lambda: platform))


def test_serves_a_report_with_its_type_in_a_sandbox(client):
    response = client.get("/files/reports/sentiment/dt=2026-10-05/drift.html")
    assert response.status_code == 200
    assert response.text == "<html><table>drift</table></html>"
    assert response.headers["content-type"].startswith("text/html")
    assert "sandbox" in response.headers["content-security-policy"]
    assert client.get("/files/reports/sentiment/dt=2026-10-05/decision.json").json() == {"retrain": False}


def test_lists_a_folder_by_its_next_level(client):
    listing = client.get("/files/reports/sentiment/").text
    assert "reports/sentiment/dt=2026-10-05/" in listing
    assert "drift.html" not in listing
    day = client.get("/files/reports/sentiment/dt=2026-10-05/").text
    assert "/findining/files/reports/sentiment/dt=2026-10-05/drift.html" in day


def test_a_day_filter_lists_only_that_days_analyses(client):
    listing = client.get("/files/abtests/", params={"day": "2026-10-06"}).text
    assert "abtests/t1/" in listing
    assert client.get("/files/abtests/", params={"day": "2026-10-07"}).status_code == 404
    assert client.get("/files/abtests/", params={"day": "../x"}).status_code == 422


@pytest.mark.parametrize("path", [
    "models/sentiment/1/model.tar.gz",
    "reports/../models/sentiment/1/model.tar.gz",
    "reports/%2E%2E/models/sentiment/1/model.tar.gz",
    "reports/..%2Fmodels/sentiment/1/model.tar.gz",
    "reports/sentiment/..%5C..%5Coutside.txt",
    "%2Fetc/passwd",
    "reports//sentiment/dt=2026-10-05/drift.html",
])
def test_refuses_anything_outside_the_report_prefixes(client, path):
    response = client.get(f"/files/{path}")
    assert response.status_code == 404
    assert b"secret weights" not in response.content and b"outside the store" not in response.content


def test_a_missing_report_is_404_with_its_key(client):
    response = client.get("/files/reports/sentiment/dt=2026-01-01/drift.html")
    assert response.status_code == 404
    assert "reports/sentiment/dt=2026-01-01/drift.html" in response.json()["detail"]


def test_requires_the_authentication_dependency(platform, store):
    def refuse():
        raise HTTPException(status_code=401, detail="not logged in")

    client = TestClient(create_app(lambda: platform, access=airflow_access(refuse, SimpleAuthManager)))
    for path in ("/", "/state", "/models/sentiment", "/files/reports/sentiment/dt=2026-10-05/drift.html"):
        assert client.get(path).status_code == 401, path


def test_a_models_page_lists_its_registry_versions_and_rollouts(client, platform):
    platform.store.write_bytes("training/recommendation/job-1/output/model.tar.gz", b"weights")
    platform.registry.register("recommendation", "training/recommendation/job-1/output/model.tar.gz", status="Approved",
                               metrics={"ndcg_at_10": 0.9}, lineage={"training_job": "job-1"},
                               reason="drift <b>alert</b>", idempotency_key="job-1")
    platform.registry.record_deployment("recommendation", 1, "recommendation-endpoint", "promoted",
                                        "canary passed", "run-1")
    page = client.get("/models/recommendation").text
    assert "job-1" in page and "promoted" in page and "canary passed" in page
    assert "drift &lt;b&gt;alert&lt;/b&gt;" in page  # escaped
    assert client.get("/models/..%2Fetc").status_code == 404
    assert client.get("/models/nope").status_code == 404


# -- who reads which report ------------------------------------------------------------------------


def role_client(platform, role: str | None) -> TestClient:
    """The view as the plugin builds it, for a logged-in user of ``role`` under Airflow's simple
    auth manager (the one the project's Airflows use)."""
    user = SimpleAuthManagerUser(username=f"a-{role}", role=role)
    return TestClient(create_app(lambda: platform, access=airflow_access(lambda: user, SimpleAuthManager)))


def test_the_policy_gives_the_ui_permission_the_reports_and_variables_the_customer_text_and_alerts():
    assert allowed_kinds([]) == frozenset()
    assert allowed_kinds([Permission.USE_UI]) == VIEWER_KINDS
    assert allowed_kinds([Permission.USE_UI, Permission.READ_VARIABLES]) == ALL_KINDS
    for kind in (ReportKind.CUSTOMER_FEEDBACK, ReportKind.ALERTS, ReportKind.DEMO_SUMMARY, ReportKind.UNCLASSIFIED):
        assert kind not in allowed_kinds([Permission.USE_UI]), kind


@pytest.mark.parametrize(("role", "kinds"), [
    ("viewer", VIEWER_KINDS), ("user", VIEWER_KINDS), ("op", ALL_KINDS), ("admin", ALL_KINDS), (None, frozenset()),
])
def test_each_airflow_role_reads_the_kinds_the_documented_table_gives_it(role, kinds):
    user = SimpleAuthManagerUser(username="someone", role=role)
    assert allowed_kinds(permissions_of(SimpleAuthManager(), user)) == kinds


@pytest.mark.parametrize(("key", "kind"), [
    ("reports/sentiment/dt=2026-10-05/drift.html", ReportKind.MONITORING),
    ("reports/recommendation/", ReportKind.MONITORING),
    ("abtests/t1/test.json", ReportKind.AB_TEST),
    ("abtests/t1/dt=2026-10-05/report.html", ReportKind.AB_TEST),
    (FEEDBACK_DIGEST, ReportKind.CUSTOMER_FEEDBACK),
    ("reports/feedback/", ReportKind.CUSTOMER_FEEDBACK),
    (ALERT_ARCHIVE, ReportKind.ALERTS),
    (DEMO_SUMMARY, ReportKind.DEMO_SUMMARY),
    ("abtests/t1/events/dt=2026-10-05/part-0.parquet", ReportKind.UNCLASSIFIED),
    ("abtests/t1/users/dt=2026-10-05/running.arrow", ReportKind.UNCLASSIFIED),
    ("reports/not-a-model/x.html", ReportKind.UNCLASSIFIED),
    ("reports/feedback", ReportKind.UNCLASSIFIED),
    ("reports/", None), ("abtests/", None), ("abtests/t1/", None),
])
def test_every_served_key_has_a_kind_and_what_nobody_classified_is_for_operators(key, kind):
    assert kind_of(key) == kind


@pytest.mark.parametrize("key", [FEEDBACK_DIGEST, ALERT_ARCHIVE, DEMO_SUMMARY, "reports/feedback/",
                                 "reports/alerts/", "abtests/t1/events/dt=2026-10-05/part-0.parquet",
                                 "reports/feedback/dt=2099-01-01/digest.html"])
def test_a_viewer_asking_for_customer_text_or_alerts_by_url_is_refused_without_learning_if_it_exists(
        platform, store, key):
    response = role_client(platform, "viewer").get(f"/files/{key}")
    assert response.status_code == 403
    assert CUSTOMER_TEXT not in response.text and ALERT_TEXT not in response.text and "user u1" not in response.text


def test_a_viewer_reads_the_monitoring_and_ab_reports_and_the_model_pages(platform, store):
    client = role_client(platform, "viewer")
    for path in ("/files/reports/sentiment/dt=2026-10-05/drift.html", "/files/abtests/t1/dt=2026-10-05/report.html",
                 "/files/abtests/t1/test.json", "/models/sentiment", "/state", "/"):
        assert client.get(path).status_code == 200, path


def test_a_viewers_listings_show_only_what_it_may_open(platform, store):
    client = role_client(platform, "viewer")
    reports = client.get("/files/reports/").text
    assert "reports/sentiment/" in reports
    assert "reports/feedback/" not in reports and "reports/alerts/" not in reports and "reports/demo/" not in reports
    test = client.get("/files/abtests/t1/").text
    assert "abtests/t1/test.json" in test and "abtests/t1/dt=2026-10-05/" in test and "events/" not in test


def test_the_state_page_shows_a_viewer_no_alerts_and_an_operator_the_recent_ones(platform, store):
    assert ALERT_TEXT not in role_client(platform, "viewer").get("/state").text
    assert "recent alerts" not in role_client(platform, "viewer").get("/").text
    assert ALERT_TEXT in role_client(platform, "op").get("/state").text


@pytest.mark.parametrize("role", ["op", "admin"])
def test_operators_and_admins_read_the_feedback_digest_alerts_and_demo_summary(platform, store, role):
    client = role_client(platform, role)
    assert CUSTOMER_TEXT in client.get(f"/files/{FEEDBACK_DIGEST}").text
    assert ALERT_TEXT in client.get(f"/files/{ALERT_ARCHIVE}").text
    assert ALERT_TEXT in client.get(f"/files/{DEMO_SUMMARY}").text
    listing = client.get("/files/reports/").text
    assert "reports/feedback/" in listing and "reports/alerts/" in listing and "reports/demo/" in listing


def test_a_user_whose_role_reads_no_report_gets_no_listing_either(platform, store):
    client = role_client(platform, None)
    for path in ("/", "/state", "/models/sentiment", "/files/reports/", "/files/abtests/t1/"):
        assert client.get(path).status_code == 403, path
