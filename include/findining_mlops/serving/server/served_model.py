"""A registered model version asked directly through its own model server — sandboxed like an
endpoint's (``pool``) but with no endpoint in between, so nothing is captured or counted as
app traffic. For the pipeline's own reads of a model (the feedback digest): the process that
asks never loads the model, it sends requests.
"""

from __future__ import annotations

import atexit
import json
import shutil

import numpy as np

from findining_mlops.config.catalog import get_model
from findining_mlops.errors import EndpointError
from findining_mlops.platform.ports import ModelVersion, Platform
from findining_mlops.platform.sandbox import unpack, workspace
from findining_mlops.serving.server.model_server import invocation_error
from findining_mlops.serving.server.pool import ServerSpec, shared_pool

REQUEST_TIMEOUT_S = 60.0
BATCH = 256  # texts per request: one request per batch keeps a day's digest to a few calls


class ServedModel:
    """``predict_proba`` and ``predict`` over texts, answered by the version's model server in
    the shape scikit-learn's estimators answer (rows of scores in the model's order; labels)."""

    def __init__(self, spec: ServerSpec, display: str):
        self.spec = spec
        self.display = display

    def predictions(self, texts) -> list[dict]:
        texts = [str(text) for text in texts]
        found: list[dict] = []
        for start in range(0, len(texts), BATCH):
            body = json.dumps({"instances": [{"text": t} for t in texts[start:start + BATCH]]}, ensure_ascii=False)
            reply = shared_pool().invoke(self.spec, body.encode(), "application/json", REQUEST_TIMEOUT_S)
            if reply.status_code >= 400:
                raise EndpointError(f"{self.display} failed on a batch of {len(texts[start:start + BATCH])} texts: "
                                    f"{invocation_error(reply.status_code, reply.content)}")
            found += json.loads(reply.content)["predictions"]
        return found

    def predict_proba(self, texts) -> np.ndarray:
        return np.array([list(p["scores"].values()) for p in self.predictions(texts)], dtype=float)

    def predict(self, texts) -> np.ndarray:
        return np.array([p["label"] for p in self.predictions(texts)])


def served_version(platform: Platform, version: ModelVersion) -> ServedModel:
    """The version's model server in this process (started on first use), its artifact unpacked
    in the sandbox into a folder kept for this process's life."""
    spec = get_model(version.model_name)
    folder = workspace(f"{version.model_name}-v{version.version}-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    archive = platform.store.download_file(version.artifact_key, folder / "model.tar.gz")
    archive.chmod(0o600)
    model_dir = unpack(archive, folder / "model")
    server = ServerSpec.started_here(spec.inference_module, str(model_dir), int(spec.serving["workers"]))
    return ServedModel(server, f"{version.model_name} {version.display}")
