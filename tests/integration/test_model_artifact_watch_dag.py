"""The model_artifact_watch DAG through Airflow (``dag.test``): a tarball a person uploaded
is registered once and deployed — as a canary through model_deployment, or at 100 % when
the model has no endpoint yet — and a corrupt or incompatible one is rejected with an
alert, leaving the registry and the endpoint as they were."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from simulation import bootstrap, tarball

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.registry.baselines import store_baseline
from findining_mlops.registry.variants import bootstrap_deploy

pytestmark = pytest.mark.slow
START = date(2026, 10, 1)
CATALOG = """
[models.sentiment]
package = "findining_mlops.models.sentiment"
dataset = "reviews"
primary_metric = "macro_f1"
min_primary_metric = 0.6
max_regression = 0.05
training_window_days = 6
holdout_days = 1
validation_days = 1
hyperparameters = { c = 4.0, max_features = 20000 }
"""
ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"
UPLOAD = "models/sentiment/1.1.0/model.tar.gz"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "models.toml"
    path.write_text(CATALOG)
    return path


@pytest.fixture(scope="module")
def trained_artifact(catalog, tmp_path_factory, trained_jobs) -> bytes:
    """A real sentiment model.tar.gz from a training job (of the session's trained jobs)."""
    from findining_mlops.platform.local import local_platform

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FINDINING_MODELS_CONFIG", str(catalog))
        trainer = local_platform(tmp_path_factory.mktemp("trainer"), seed=1)
        generate(trainer.store, START, 6, seed=4, requests_per_day=10, reviews_per_day=150)
        version = bootstrap(trainer, get_model("sentiment"), START + timedelta(days=5), "job-v1", trained=trained_jobs)
        return trainer.store.read_bytes(version.artifact_key)


@pytest.fixture
def watch_dag(airflow_db, catalog, monkeypatch):
    monkeypatch.setenv("FINDINING_MODELS_CONFIG", str(catalog))
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "model_artifact_watch.py"))
    assert not bag.import_errors
    return bag.dags["model_artifact_watch"]


@pytest.fixture(autouse=True)
def labelled_days(platform):
    """The newest labelled reviews, which an upload and the champion are evaluated on."""
    generate(platform.store, START + timedelta(days=6), 2, seed=5, requests_per_day=10, reviews_per_day=150)


@pytest.fixture
def live_v1(platform, watch_dag, trained_artifact):
    """The trained model registered as v1 and serving the endpoint at 100 %, as
    model_retraining leaves a model."""
    platform.store.write_bytes("training/sentiment/job-v1/output/model.tar.gz", trained_artifact)
    version = platform.registry.register("sentiment", "training/sentiment/job-v1/output/model.tar.gz",
                                         status="Approved", metrics={"macro_f1": 0.7}, lineage={}, reason="bootstrap",
                                         idempotency_key="job-v1")
    store_baseline(platform, version)
    bootstrap_deploy(platform, get_model("sentiment"), version)
    return version


def alerts(home: Path) -> list[dict]:
    path = home / "alerts.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def new_deployments(airflow_db):
    """The model_deployment runs triggered since the test began (the Airflow database is the session's)."""
    from airflow.models.dagrun import DagRun

    def runs() -> set[str]:
        return {r.run_id for r in DagRun.find(dag_id="model_deployment")}

    before = runs()
    return lambda: sorted(runs() - before)


def served(platform) -> list[tuple[int, float]]:
    return [(v.model_version, v.weight) for v in platform.endpoints.describe(ENDPOINT).variants]


def test_an_upload_is_registered_once_and_handed_to_a_canary_deployment(watch_dag, live_v1, platform, home,
                                                                        trained_artifact, new_deployments):
    platform.store.write_bytes(UPLOAD, trained_artifact)
    assert watch_dag.test().state == "success"

    versions = platform.registry.list_versions("sentiment")
    assert [(v.version, v.status) for v in versions] == [(1, "Approved"), (2, "Approved")]
    uploaded = versions[1]
    assert uploaded.artifact_key == "models/sentiment/2/model.tar.gz"
    assert uploaded.lineage["uploaded_artifact"] == UPLOAD and uploaded.lineage["source"] == "manual upload"
    assert uploaded.lineage["sha256"] == hashlib.sha256(trained_artifact).hexdigest()
    assert uploaded.metrics["macro_f1"] > 0.6  # on the newest labelled days
    assert platform.store.exists("baselines/sentiment/2/reference.parquet")
    assert served(platform) == [(1, 1.0)]  # the canary is model_deployment's job
    from airflow.models.dagrun import DagRun

    [deployment] = DagRun.find(dag_id="model_deployment", run_id="upload__sentiment__v2")
    assert deployment.conf == {"model_name": "sentiment", "version": 2, "strategy": "canary", "canary_percent": 10,
                               "ramp": [10, 50, 100], "bake_minutes": 10.0}

    # the next poll: neither the upload nor the registry's copy of it (models/sentiment/2/) is new
    assert watch_dag.test().state == "success"
    assert len(platform.registry.list_versions("sentiment")) == 2
    assert new_deployments() == ["upload__sentiment__v2"]
    assert alerts(home) == []


CORRUPT = b"\x1f\x8b but not really a gzip stream"


@pytest.mark.parametrize("make_upload, reason", [
    (lambda model: CORRUPT, "is not a readable model.tar.gz"),
    (lambda model: tarball({"evaluation.json": b'{"macro_f1": 0.9}'}), "does not load"),
    (lambda model: tarball({"model.joblib": model, "fault-injection.json": b'{"error_rate": 0.25}'}),
     "holds fault-injection.json"),
], ids=["corrupt", "no-model", "bad-fault-file"])
def test_a_corrupt_or_incompatible_upload_is_rejected_with_an_alert(watch_dag, live_v1, platform, home,
                                                                    trained_artifact, new_deployments, make_upload,
                                                                    reason):
    with tarfile.open(fileobj=io.BytesIO(trained_artifact)) as tar:
        model = tar.extractfile("model.joblib").read()
    platform.store.write_bytes(UPLOAD, make_upload(model))
    assert watch_dag.test().state == "success"

    assert [v.version for v in platform.registry.list_versions("sentiment")] == [1]
    assert served(platform) == [(1, 1.0)]
    assert new_deployments() == []
    [alert] = alerts(home)
    assert "upload rejected" in alert["Subject"]
    assert UPLOAD in alert["Message"] and reason in alert["Message"]

    # rejected once: the next poll neither checks nor alerts again
    assert watch_dag.test().state == "success"
    assert len(alerts(home)) == 1


def test_bad_uploads_do_not_hold_back_a_good_one(watch_dag, platform, home, trained_artifact):
    platform.store.write_bytes("models/sentiment/1.0.0/model.tar.gz", CORRUPT)  # checked first
    platform.store.write_bytes(UPLOAD, trained_artifact)
    platform.store.write_bytes("models/weather/1.0/model.tar.gz", trained_artifact)  # not in the catalog
    assert watch_dag.test().state == "success"

    messages = sorted(a["Message"] for a in alerts(home))  # the mapped checks run in any order
    assert len(messages) == 2
    assert "models/sentiment/1.0.0/model.tar.gz is not a readable model.tar.gz" in messages[0]
    assert "models/weather/1.0/model.tar.gz: unknown model 'weather'" in messages[1]
    [version] = platform.registry.list_versions()
    assert (version.model_name, version.version, version.lineage["uploaded_artifact"]) == ("sentiment", 1, UPLOAD)
    assert served(platform) == [(1, 1.0)]


def test_an_upload_for_a_model_without_an_endpoint_is_deployed_at_once(watch_dag, platform, home, trained_artifact,
                                                                      new_deployments):
    platform.store.write_bytes(UPLOAD, trained_artifact)
    assert platform.endpoints.describe(ENDPOINT) is None
    assert watch_dag.test().state == "success"

    [version] = platform.registry.list_versions("sentiment")
    assert (version.version, version.lineage["uploaded_artifact"]) == (1, UPLOAD)
    assert served(platform) == [(1, 1.0)]
    answer = platform.endpoints.invoke(ENDPOINT, json.dumps({"text": "好好食，一定會再嚟"}).encode())
    assert json.loads(answer.body)["label"] in ("negative", "neutral", "positive")
    assert new_deployments() == []
    assert alerts(home) == []
