"""The reports view: serves reports/ and abtests/ from the store, nothing else, to logged-in users."""

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from findining_airflow.report_views import create_app


@pytest.fixture
def store(platform):
    store = platform.store
    store.write_bytes("reports/sentiment/dt=2026-10-05/drift.html", b"<html><table>drift</table></html>")
    store.write_bytes("reports/sentiment/dt=2026-10-05/decision.json", b'{"retrain": false}')
    store.write_bytes("abtests/t1/dt=2026-10-05/report.html", b"<html>ab</html>")
    store.write_bytes("abtests/t1/dt=2026-10-06/report.html", b"<html>ab 2</html>")
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

    response = TestClient(create_app(lambda: platform, authenticated=refuse)).get(
        "/files/reports/sentiment/dt=2026-10-05/drift.html")
    assert response.status_code == 401


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
