"""model_artifact_watch through Airflow (``dag.test``): an upload faces the model's quality
gate against the live champion on the newest labelled days, as a retrained version does.
A worse one is registered ``Rejected`` with the gate's reason and an alert, and nothing is
deployed; a good one is ``Approved`` and handed to model_deployment as a canary.
No training job: the models are fitted in-process."""

from __future__ import annotations

from datetime import date

import pytest
from simulation import SENTIMENT, load_dag, read_alerts, tarball
from upload_fixtures import joblib_bytes, majority_class_model, sentiment_files

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.models import contract
from findining_mlops.registry.variants import bootstrap_deploy

pytestmark = pytest.mark.slow
ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"
UPLOAD = "models/sentiment/2.0.0/model.tar.gz"


@pytest.fixture(scope="module")
def good_files() -> dict[str, bytes]:
    return sentiment_files()


@pytest.fixture
def watch_dag(airflow_db, use_catalog):
    use_catalog(sentiment=SENTIMENT)
    return load_dag("model_artifact_watch")


@pytest.fixture
def live_champion(platform, watch_dag, good_files):
    """Labelled days in the store, and a good model registered as v1 serving the endpoint."""
    generate(platform.store, date(2026, 10, 1), 2, seed=3, requests_per_day=10, reviews_per_day=150)
    platform.store.write_bytes("training/sentiment/job-v1/output/model.tar.gz", tarball(good_files))
    version = platform.registry.register("sentiment", "training/sentiment/job-v1/output/model.tar.gz",
                                         status="Approved", metrics={}, lineage={}, reason="bootstrap",
                                         idempotency_key="job-v1")
    bootstrap_deploy(platform, get_model("sentiment"), version)
    return version


def served(platform) -> list[tuple[int, float]]:
    return [(v.model_version, v.weight) for v in platform.endpoints.describe(ENDPOINT).variants]


def test_a_worse_upload_is_rejected_with_the_gates_reason_and_nothing_is_deployed(
        watch_dag, live_champion, platform, home, good_files, deployments):
    platform.store.write_bytes(UPLOAD,
                               tarball({**good_files, contract.MODEL_FILE: joblib_bytes(majority_class_model())}))
    assert watch_dag.test().state == "success"

    [_, rejected] = platform.registry.list_versions("sentiment")
    assert (rejected.version, rejected.status) == (2, "Rejected")
    assert "rejected by the quality gate" in rejected.reason and "macro_f1 >= champion v1 (1.0.0)" in rejected.reason
    assert [c["passed"] for c in rejected.lineage["quality_gate"]] == [False, False]
    assert served(platform) == [(1, 1.0)]
    assert deployments() == []
    [alert] = read_alerts(home)
    assert f"upload rejected: {UPLOAD}"[:40] in alert["Subject"]
    assert rejected.reason in alert["Message"] and "nothing was deployed" in alert["Message"]
    assert f"Registered as sentiment {rejected.display} (Rejected)" in alert["Message"] and "(" in rejected.display

    assert watch_dag.test().state == "success"  # judged once
    assert len(platform.registry.list_versions("sentiment")) == 2 and len(read_alerts(home)) == 1


def test_a_good_upload_is_approved_and_handed_to_a_canary_deployment(
        watch_dag, live_champion, platform, home, good_files, deployments):
    platform.store.write_bytes(UPLOAD, tarball(sentiment_files(rows=600, seed=9)))  # another fit, as good
    assert watch_dag.test().state == "success"

    [_, approved] = platform.registry.list_versions("sentiment")
    assert (approved.version, approved.status) == (2, "Approved")
    assert approved.lineage["champion"]["version"] == 1
    assert all(c["passed"] for c in approved.lineage["quality_gate"])
    [deployment] = deployments()
    assert deployment.run_id == "upload__sentiment__v2" and deployment.conf["version"] == 2
    assert served(platform) == [(1, 1.0)]  # the canary is model_deployment's job
    assert read_alerts(home) == []


def test_bytes_written_over_a_checked_upload_are_not_registered(
        watch_dag, live_champion, platform, home, good_files, deployments, monkeypatch):
    """The attack: upload a good model, and once the check passed it, write other bytes
    (here a worse model) at the same key before the register task runs. The register task
    refuses them, naming both hashes; nothing is registered or deployed; the next poll checks
    the new bytes as an upload of their own and the gate judges them."""
    import hashlib

    from findining_mlops.training import uploads

    checked_bytes = tarball(sentiment_files(rows=600, seed=9))
    unchecked = tarball({**good_files, contract.MODEL_FILE: joblib_bytes(majority_class_model())})
    platform.store.write_bytes(UPLOAD, checked_bytes)
    register_upload = uploads.register_upload

    def overwrite_then_register(platform_, upload, validation, dag_run=""):
        platform_.store.write_bytes(UPLOAD, unchecked)
        return register_upload(platform_, upload, validation, dag_run)

    monkeypatch.setattr(uploads, "register_upload", overwrite_then_register)
    assert watch_dag.test().state == "failed"

    assert [(v.version, v.status) for v in platform.registry.list_versions("sentiment")] == [(1, "Approved")]
    assert not platform.store.exists("models/sentiment/2/model.tar.gz")
    assert deployments() == [] and served(platform) == [(1, 1.0)]
    [alert] = read_alerts(home)
    assert "is not the object that was checked" in alert["Message"] and UPLOAD in alert["Message"]
    assert hashlib.sha256(checked_bytes).hexdigest() in alert["Message"]
    assert hashlib.sha256(unchecked).hexdigest() in alert["Message"]

    monkeypatch.setattr(uploads, "register_upload", register_upload)
    assert watch_dag.test().state == "success"
    [_, judged] = platform.registry.list_versions("sentiment")
    assert judged.status == "Rejected" and judged.lineage["sha256"] == hashlib.sha256(unchecked).hexdigest()
    assert deployments() == []
