"""Fault injection is for rollback drills only: a model artifact's fault-injection.json takes
effect in a serving process started as a drill (FINDINING_FAULT_DRILL=1, which the demo's
drill sets) and is ignored everywhere else — by the local endpoints and by the SageMaker
serving entry point."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from upload_fixtures import sentiment_files

from findining_mlops.config.catalog import get_model
from findining_mlops.errors import EndpointError
from findining_mlops.models import contract
from findining_mlops.platform.aws.source import SERVE_PROGRAM, source_tarball
from findining_mlops.platform.ports import ProductionVariant
from findining_mlops.serving.server.handlers import FAULT_DRILL_ENV, FAULT_FILE, fault_drill, inject_faults

ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"
REQUEST = json.dumps({"text": "好好食，一定會再嚟"}).encode()
FAILS_EVERY_REQUEST = {"error_rate": 1.0}


@pytest.fixture(scope="module")
def faulty_model_dir(tmp_path_factory):
    """A real sentiment model whose archive holds a fault file that fails every request."""
    folder = tmp_path_factory.mktemp("faulty")
    files = sentiment_files(rows=200)
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    inject_faults(folder / "model.tar.gz", folder / "faulty.tar.gz", FAILS_EVERY_REQUEST)
    model_dir = folder / "model"
    with tarfile.open(folder / "faulty.tar.gz") as tar:
        tar.extractall(model_dir, filter="data")
    assert (model_dir / FAULT_FILE).is_file() and (model_dir / contract.MODEL_FILE).is_file()
    return model_dir


@pytest.fixture(autouse=True)
def no_drill(monkeypatch):
    monkeypatch.delenv(FAULT_DRILL_ENV, raising=False)


def serving_entry_point(model_dir) -> dict:
    """The SageMaker serving script of the sentiment model, as the container runs it."""
    with tarfile.open(fileobj=io.BytesIO(source_tarball(get_model("sentiment"), "1.9-0"))) as tar:
        program = tar.extractfile(SERVE_PROGRAM).read().decode()
    namespace: dict = {}
    exec(program, namespace)
    model = namespace["model_fn"](str(model_dir))
    return namespace, model


def answer(namespace: dict, model) -> dict:
    data = namespace["input_fn"](REQUEST, "application/json")
    return json.loads(namespace["output_fn"](namespace["predict_fn"](data, model), "application/json"))


def test_the_sagemaker_entry_point_ignores_faults_outside_a_drill(faulty_model_dir):
    namespace, model = serving_entry_point(faulty_model_dir)
    assert answer(namespace, model)["label"] in ("negative", "neutral", "positive")


def test_the_sagemaker_entry_point_injects_faults_on_a_drill_endpoint(faulty_model_dir, monkeypatch):
    monkeypatch.setenv(FAULT_DRILL_ENV, "1")  # what a drill endpoint's container environment sets
    namespace, model = serving_entry_point(faulty_model_dir)
    with pytest.raises(RuntimeError, match="fault injection"):
        answer(namespace, model)


def deploy_faulty(platform, faulty_model_dir, tmp_path) -> None:
    archive = tmp_path / "faulty.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(faulty_model_dir, arcname=".")
    platform.endpoints.deploy(ENDPOINT, [ProductionVariant("sentiment-v1", "sentiment", 1, archive.as_uri(), 1.0)])


def test_a_local_endpoint_serves_a_faulty_artifact_normally_outside_a_drill(platform, faulty_model_dir, tmp_path):
    deploy_faulty(platform, faulty_model_dir, tmp_path)
    assert json.loads(platform.endpoints.invoke(ENDPOINT, REQUEST).body)["label"] in ("negative", "neutral", "positive")


def test_a_local_endpoint_started_as_a_drill_fails_as_the_fault_file_says(platform, faulty_model_dir, tmp_path):
    with fault_drill():
        deploy_faulty(platform, faulty_model_dir, tmp_path)
        with pytest.raises(EndpointError, match="fault injection"):
            platform.endpoints.invoke(ENDPOINT, REQUEST)
