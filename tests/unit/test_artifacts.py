"""Uploaded model artifacts: which keys are uploads, what makes a tarball deployable, and
that the same object is registered (or rejected) once."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from datetime import date

import joblib
import pytest
from simulation import tarball  # tests/integration, on the pytest pythonpath
from threadpoolctl import threadpool_limits

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.errors import DataValidationError
from findining_mlops.models import contract
from findining_mlops.serving.server.handlers import FAULT_FILE
from findining_mlops.training.uploads import Upload, find_uploads, register_upload, reject_upload, validate_upload

UPLOAD = "models/sentiment/1.1.0/model.tar.gz"


def joblib_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sentiment_files() -> dict[str, bytes]:
    """What the training contract packs, from a tiny sentiment model."""
    from findining_mlops.models.sentiment.train import HYPERPARAMETERS, fit, reference_profile

    reviews = World(seed=2).reviews(date(2026, 10, 1), 200, ScenarioPlan())
    with threadpool_limits(limits=1):
        model = fit(reviews, reviews.iloc[:0], HYPERPARAMETERS)
    reference = io.BytesIO()
    reference_profile(model, contract.reference_sample(reviews, 100, 7)).to_parquet(reference, index=False)
    return {
        contract.MODEL_FILE: joblib_bytes(model),
        contract.EVALUATION_FILE: json.dumps({"macro_f1": 0.71, "accuracy": 0.75, "rows": 200, "note": "x"}).encode(),
        contract.METADATA_FILE: b"{}",
        contract.REFERENCE_FILE: reference.getvalue(),
    }


def upload(platform, key: str, data: bytes) -> Upload:
    platform.store.write_bytes(key, data)
    [found] = [u for u in find_uploads(platform) if u.key == key]
    return found


def test_uploads_are_label_folders_that_the_registry_did_not_write(platform, sentiment_files):
    data = tarball(sentiment_files)
    platform.store.write_bytes("training/job/model.tar.gz", data)
    platform.registry.register("sentiment", "training/job/model.tar.gz", status="Approved", metrics={}, lineage={},
                               reason="trained", idempotency_key="job")
    for key in (UPLOAD, "models/sentiment/1.10.0/model.tar.gz", "models/sentiment/1.9.0/model.tar.gz",
                "models/recommendation/2.0/model.tar.gz",
                "models/sentiment/7/model.tar.gz",  # the registry's namespace: a registration in flight
                "models/sentiment/1.2.0/notes.txt", "models/sentiment/model.tar.gz"):
        platform.store.write_bytes(key, data)
    found = find_uploads(platform)
    assert [u.key for u in found] == ["models/recommendation/2.0/model.tar.gz", UPLOAD,
                                      "models/sentiment/1.9.0/model.tar.gz", "models/sentiment/1.10.0/model.tar.gz"]
    assert found[1] == Upload(UPLOAD, "sentiment", "1.1.0", platform.store.etags(UPLOAD)[UPLOAD])


@pytest.fixture
def labelled(platform):
    """Two days of labelled reviews: the holdout an upload is evaluated on."""
    from findining_mlops.data.synthetic import generate

    generate(platform.store, date(2026, 10, 1), 2, seed=3, requests_per_day=10, reviews_per_day=150)
    return platform


def test_a_valid_upload_is_registered_once_per_object_with_its_baseline(labelled, sentiment_files):
    platform = labelled
    data = tarball(sentiment_files)
    found = upload(platform, UPLOAD, data)
    validation = validate_upload(platform, found)
    assert set(validation["evaluation"]["challenger"]) >= {"macro_f1", "accuracy"}  # on the holdout
    assert validation["smoke_response"]["label"] in ("negative", "neutral", "positive")

    version = register_upload(platform, found, validation, "model_artifact_watch/run")
    assert (version.version, version.status, version.artifact_key) == (1, "Approved", "models/sentiment/1/model.tar.gz")
    assert version.lineage["uploaded_artifact"] == UPLOAD and version.lineage["etag"] == found.etag
    assert version.lineage["sha256"] == hashlib.sha256(data).hexdigest() == validation["sha256"]
    assert version.lineage["version_id"] == ""  # the local store keeps no versions: the hash names the bytes
    assert platform.store.exists("baselines/sentiment/1/reference.parquet")
    assert register_upload(platform, found, validation).version == 1  # a retried task
    assert find_uploads(platform) == []  # neither the upload nor the registry's copy of it

    replaced = upload(platform, UPLOAD, tarball({**sentiment_files, "README": b"1.1.0, fixed"}))
    assert replaced.etag != found.etag
    # the label 1.1.0 names v1: other bytes under it are refused, not registered as v2
    with pytest.raises(DataValidationError, match="already has a version labelled 1.1.0"):
        validate_upload(platform, replaced)
    assert len(platform.registry.list_versions("sentiment")) == 1


def test_an_upload_without_a_baseline_is_registered_with_a_note(labelled, sentiment_files):
    platform = labelled
    found = upload(platform, UPLOAD, tarball({contract.MODEL_FILE: sentiment_files[contract.MODEL_FILE]}))
    validation = validate_upload(platform, found)
    version = register_upload(platform, found, validation)
    assert "no drift baseline" in version.reason
    assert platform.store.list_keys("baselines/") == []


TRAINED = object()  # stands for the trained model's bytes


@pytest.mark.parametrize("files, message", [
    (None, "is not a readable model.tar.gz"),
    ({contract.EVALUATION_FILE: b"{}"}, "does not load with findining_mlops.models.sentiment.inference.model_fn"),
    ({contract.MODEL_FILE: b"not a pickle"}, "does not load"),
    ({"../escape.txt": b"x"}, "is not a safe model.tar.gz: member '../escape.txt' has a path outside the archive"),
    ({contract.MODEL_FILE: joblib_bytes({"weights": [1, 2]})}, "fails a smoke request"),
    ({contract.MODEL_FILE: TRAINED, FAULT_FILE: b'{"error_rate": 0.1}'}, f"holds {FAULT_FILE}"),
])
def test_a_corrupt_or_incompatible_tarball_is_rejected_by_name(labelled, sentiment_files, files, message):
    platform = labelled
    model = sentiment_files[contract.MODEL_FILE]
    data = b"\x89PNG not a tarball" if files is None else tarball(
        {name: model if content is TRAINED else content for name, content in files.items()})
    found = upload(platform, UPLOAD, data)
    with pytest.raises(DataValidationError, match=message) as error:
        validate_upload(platform, found)
    assert UPLOAD in str(error.value)


def test_an_upload_whose_model_is_a_link_to_a_secret_is_rejected_by_name_before_anything_is_unpacked(labelled):
    """The uploaded model.joblib is a symlink to the worker's environment: unpacked and loaded,
    it would hand the secrets to whatever reads the model."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        link = tarfile.TarInfo(contract.MODEL_FILE)
        link.type, link.linkname = tarfile.SYMTYPE, "/proc/self/environ"
        tar.addfile(link)
    found = upload(labelled, UPLOAD, gzip.compress(raw.getvalue()))
    with pytest.raises(DataValidationError, match=f"member '{contract.MODEL_FILE}' is a link") as error:
        validate_upload(labelled, found)
    assert UPLOAD in str(error.value)


def test_a_model_answering_in_the_wrong_shape_is_rejected(labelled, sentiment_files):
    from sklearn.dummy import DummyClassifier

    platform = labelled
    delicious = DummyClassifier(strategy="constant", constant="delicious").fit([[0], [0]], ["delicious", "bland"])
    found = upload(platform, UPLOAD, tarball({**sentiment_files, contract.MODEL_FILE: joblib_bytes(delicious)}))
    with pytest.raises(DataValidationError, match="expected 'label' among negative, neutral, positive"):
        validate_upload(platform, found)


def test_an_upload_for_an_unknown_model_is_rejected_by_name(platform, sentiment_files):
    found = upload(platform, "models/weather/1.0/model.tar.gz", tarball(sentiment_files))
    with pytest.raises(DataValidationError, match="models/weather/1.0/model.tar.gz: unknown model 'weather'"):
        validate_upload(platform, found)


def test_rejected_bytes_are_skipped_until_replaced(platform):
    found = upload(platform, UPLOAD, b"garbage")
    record = reject_upload(platform, found, "not a tarball")
    assert record == f"uploads/rejected/sentiment/1.1.0/{found.etag}.json"
    assert json.loads(platform.store.read_bytes(record))["reason"] == "not a tarball"
    assert find_uploads(platform) == []
    assert upload(platform, UPLOAD, b"other garbage").etag != found.etag


def test_the_smoke_check_knows_each_models_response_shape():
    body = {"candidates": [{}, {}]}
    recommendation = get_model("recommendation").code.requests.check_response
    assert recommendation(body, {"scores": [0.2, 0.9], "ranking": []}) is None
    assert "one score per candidate (2)" in recommendation(body, {"scores": [0.2]})
    assert "between 0 and 1" in recommendation(body, {"scores": [0.2, 3.0]})
    sentiment = get_model("sentiment").code.requests.check_response
    assert sentiment({"text": "x"}, {"label": "neutral"}) is None
    assert sentiment({"text": "x"}, ["neutral"]) is not None
