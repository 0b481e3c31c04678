"""An uploaded tarball is loaded, asked a smoke request and evaluated in a child process:
with a time limit, without the worker's credentials, and judged by the model's quality
gate against the champion. A poll recognises objects it has seen by their ETag."""

from __future__ import annotations

import io
import json
import os
import time
from datetime import date

import pandas as pd
import pytest
from simulation import tarball
from upload_fixtures import RunsOnLoad, joblib_bytes, majority_class_model, model_running_on_load, sentiment_files

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import generate
from findining_mlops.errors import DataValidationError
from findining_mlops.models import contract
from findining_mlops.platform.sandbox import child_environment
from findining_mlops.registry.variants import bootstrap_deploy
from findining_mlops.serving.server.handlers import FAULT_FILE
from findining_mlops.training.uploads import find_uploads, register_upload, reject_upload, validate_upload

UPLOAD = "models/sentiment/1.1.0/model.tar.gz"
SECRET = "fake-secret-5f2c9d"


@pytest.fixture(scope="module")
def good_files() -> dict[str, bytes]:
    return sentiment_files()


@pytest.fixture
def labelled(platform):
    """Two days of labelled reviews: the holdout an upload is evaluated on."""
    generate(platform.store, date(2026, 10, 1), 2, seed=3, requests_per_day=10, reviews_per_day=150)
    return platform


def found(platform, key: str = UPLOAD):
    [upload] = [u for u in find_uploads(platform) if u.key == key]
    return upload


def test_a_model_that_hangs_on_load_is_stopped_by_the_time_limit(labelled):
    labelled.store.write_bytes(UPLOAD, model_running_on_load(time.sleep, 3600))
    with pytest.raises(DataValidationError, match="did not finish within the time limit of 3 s"):
        validate_upload(labelled, found(labelled), time_limit_s=3)


def test_a_model_that_kills_its_process_on_load_is_rejected_and_the_worker_goes_on(labelled):
    labelled.store.write_bytes(UPLOAD, model_running_on_load(os._exit, 70))
    with pytest.raises(DataValidationError, match="crashed the check process \\(exit code 70\\)"):
        validate_upload(labelled, found(labelled))


def test_the_check_process_sees_no_credentials_or_connections(labelled, monkeypatch, sandbox_writable):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", f"aws://AKIAFAKEFAKEFAKE:{SECRET}@")
    seen = sandbox_writable / "environment.json"
    # the model's pickled code records the environment it runs in, then fails to be a model
    labelled.store.write_bytes(UPLOAD, model_running_on_load(
        exec, f"import json, os; open({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))"))
    with pytest.raises(DataValidationError, match="fails a smoke request"):
        validate_upload(labelled, found(labelled))

    environment = json.loads(seen.read_text())
    assert not [name for name in environment if name.startswith(("AWS_", "AIRFLOW_CONN_"))]
    assert SECRET not in json.dumps(environment)
    assert environment["HOME"] != os.environ.get("HOME")  # ~/.aws/credentials is out of reach too


def test_the_child_environment_keeps_only_what_python_needs(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", f"postgres://u:{SECRET}@db/x")
    monkeypatch.setenv("AWS_SESSION_TOKEN", SECRET)
    monkeypatch.setenv("FINDINING_HOME", "/srv/findining")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    env = child_environment(tmp_path, SM_MODEL_DIR="/opt/ml/model")
    assert env["PATH"] == os.environ["PATH"] and env["LC_ALL"] == "C.UTF-8"
    assert env["HOME"] == str(tmp_path) and env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert SECRET not in json.dumps(env) and "FINDINING_HOME" not in env


def test_an_upload_holding_a_fault_injection_file_is_rejected(labelled, good_files):
    labelled.store.write_bytes(UPLOAD, tarball({**good_files, FAULT_FILE: b'{"error_rate": 0.25}'}))
    with pytest.raises(DataValidationError, match=f"holds {FAULT_FILE}: fault injection is for rollback drills"):
        validate_upload(labelled, found(labelled))


def live_champion(platform, files: dict[str, bytes]):
    """``files`` registered as v1 and serving the endpoint, as model_retraining leaves a model."""
    platform.store.write_bytes("training/sentiment/job-v1/output/model.tar.gz", tarball(files))
    version = platform.registry.register("sentiment", "training/sentiment/job-v1/output/model.tar.gz",
                                         status="Approved", metrics={}, lineage={}, reason="bootstrap",
                                         idempotency_key="job-v1")
    bootstrap_deploy(platform, get_model("sentiment"), version)
    return version


def test_a_worse_upload_is_registered_rejected_with_the_gates_reason(labelled, good_files):
    live_champion(labelled, good_files)
    labelled.store.write_bytes(UPLOAD, tarball({**good_files, contract.MODEL_FILE:
                                                joblib_bytes(majority_class_model())}))
    upload = found(labelled)
    validation = validate_upload(labelled, upload)
    gate = validation["gate"]
    assert gate["status"] == "Rejected"
    champion = validation["evaluation"]["champion"]
    assert champion["version"] == 1 \
        and champion["metrics"]["macro_f1"] > validation["evaluation"]["challenger"]["macro_f1"]
    assert validation["evaluation"]["holdout_days"] == ["2026-10-01", "2026-10-02"]

    version = register_upload(labelled, upload, validation)
    assert (version.version, version.status) == (2, "Rejected")
    assert "rejected by the quality gate: macro_f1 >= 0.6 failed with" in version.reason
    assert "macro_f1 >= champion v1" in version.reason
    assert version.metrics["macro_f1"] < 0.6  # the holdout's figure, not the tarball's claimed 0.99
    assert version.lineage["quality_gate"] == gate["checks"] and version.lineage["etag"] == upload.etag
    assert find_uploads(labelled) == []


def test_an_upload_as_good_as_the_champion_is_approved(labelled, good_files):
    live_champion(labelled, good_files)
    labelled.store.write_bytes(UPLOAD, tarball(good_files))
    upload = found(labelled)
    validation = validate_upload(labelled, upload)
    assert validation["gate"]["status"] == "Approved", validation["gate"]
    assert validation["smoke_response"]["label"] in ("negative", "neutral", "positive")
    version = register_upload(labelled, upload, validation)
    assert (version.version, version.status) == (2, "Approved")
    assert labelled.store.exists("baselines/sentiment/2/reference.parquet")


def test_an_upload_waits_for_labelled_data_to_be_evaluated_on(platform, good_files):
    from findining_mlops.errors import MissingPartitionError

    platform.store.write_bytes(UPLOAD, tarball(good_files))
    with pytest.raises(MissingPartitionError, match="no labelled reviews data"):
        validate_upload(platform, found(platform))


class CountingReads:
    """The store, counting reads of objects under models/."""

    def __init__(self, store):
        self.store, self.reads = store, []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def read_bytes(self, key):
        self.reads.append(key)
        return self.store.read_bytes(key)

    def download_file(self, key, path):
        self.reads.append(key)
        return self.store.download_file(key, path)


def test_a_poll_does_not_download_an_object_it_has_seen(platform, monkeypatch):
    platform.store.write_bytes(UPLOAD, b"garbage")
    reject_upload(platform, found(platform), "not a tarball")
    platform.store.write_bytes("models/sentiment/1.2.0/model.tar.gz", b"new bytes")

    counting = CountingReads(platform.store)
    monkeypatch.setattr(platform, "store", counting)
    assert [u.key for u in find_uploads(platform)] == ["models/sentiment/1.2.0/model.tar.gz"]
    assert counting.reads == []

    platform.store.write_bytes(UPLOAD, b"replaced bytes")  # new bytes at a seen key are new
    assert [u.key for u in find_uploads(platform)] == [UPLOAD, "models/sentiment/1.2.0/model.tar.gz"]
    assert counting.reads == []



def test_retraining_loads_the_champion_outside_the_worker_too(labelled, good_files, sandbox_writable):
    """An approved upload becomes the champion that the next retraining evaluates: that load
    runs in the check's child process as well."""
    from findining_mlops.errors import RegistryError
    from findining_mlops.platform.ports import TrainingJob
    from findining_mlops.store.partitions import partition_files
    from findining_mlops.training.evaluate import evaluate_candidates
    from findining_mlops.training.snapshot import Snapshot

    loaded_in = sandbox_writable / "pid"
    records_its_process = RunsOnLoad(exec, f"import os; open({str(loaded_in)!r}, 'w').write(str(os.getpid()))")
    labelled.store.write_bytes("training/sentiment/job-v1/output/model.tar.gz",
                               tarball({contract.MODEL_FILE: joblib_bytes(records_its_process)}))
    labelled.registry.register("sentiment", "training/sentiment/job-v1/output/model.tar.gz", status="Approved",
                               metrics={}, lineage={}, reason="an approved upload", idempotency_key="job-v1")
    holdout = partition_files(labelled, "reviews", date(2026, 10, 2))[0]
    labelled.store.write_bytes("training/sentiment/job-v2/test/part-0.parquet", labelled.store.read_bytes(holdout))
    labelled.store.write_bytes("training/sentiment/job-v2/output/model.tar.gz", tarball(good_files))
    job = TrainingJob("job-v2", "Completed", "training/sentiment/job-v2/output/model.tar.gz")
    rows = len(pd.read_parquet(io.BytesIO(labelled.store.read_bytes(holdout))))
    snapshot = Snapshot("job-v2", {"test": "training/sentiment/job-v2/test"}, {"test": ["2026-10-02"]},
                        {"test": rows}, "")

    with pytest.raises(RegistryError, match=r"the champion sentiment v1 \(.*\) fails its evaluation on the holdout"):
        evaluate_candidates(labelled, get_model("sentiment"), job, snapshot)
    assert int(loaded_in.read_text()) != os.getpid()
