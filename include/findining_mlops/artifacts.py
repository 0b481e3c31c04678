"""Model artifacts uploaded by people: find, validate, register.

The seed's guide deploys a model by copying its tarball into the bucket
(``aws s3 cp recommendation-model-1.1.0.tar.gz s3://bucket/models/recommendation/1.1.0/model.tar.gz``).
Such an upload is any ``models/<model>/<version>/model.tar.gz`` that the registry did not
write: the registry's own copies sit in integer version folders and are its artifact
keys. An upload is known by its key and the SHA-256 of its bytes, so the same bytes are
registered once, and replaced bytes at the same key are checked again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tarfile
import tempfile
import zlib
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from findining_mlops.catalog import get_model
from findining_mlops.data.contracts import SENTIMENT_LABELS
from findining_mlops.errors import DataValidationError, UnknownModelError
from findining_mlops.handlers import load_handlers, with_fault_injection
from findining_mlops.models import contract
from findining_mlops.platform.ports import APPROVED, ModelVersion, Platform
from findining_mlops.retraining import BASELINE_FILES, code_version, store_baseline
from findining_mlops.traffic import synthetic_requests

log = logging.getLogger(__name__)
UPLOAD_KEY = re.compile(r"models/(?P<model>[^/]+)/(?P<version>[^/]+)/model\.tar\.gz")
# one fixed request of the synthetic world, so a check gives the same verdict every time
SMOKE_SEED, SMOKE_DAY = 0, date(2026, 1, 1)


@dataclass(frozen=True)
class Upload:
    key: str
    model: str
    version: str  # the uploader's label, e.g. "1.1.0"; the registry numbers its own versions
    sha256: str

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def idempotency_key(self) -> str:
        return f"upload:{self.key}:{self.sha256}"


def rejection_key(upload: Upload) -> str:
    return f"uploads/rejected/{upload.model}/{upload.version}/{upload.sha256}.json"


def find_uploads(platform: Platform) -> list[Upload]:
    """Uploads not registered yet and not rejected before, in model then version order
    (``1.10.0`` after ``1.9.0``), so the newest of a batch registers last."""
    versions = platform.registry.list_versions()
    registry_keys = {v.artifact_key for v in versions}
    registered = {(v.lineage.get("uploaded_artifact"), v.lineage.get("sha256")) for v in versions}
    uploads = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in platform.store.list_keys("models/"):
            match = UPLOAD_KEY.fullmatch(key)
            if not match or key in registry_keys:
                continue
            if match["version"].isdigit():
                # the registry's namespace: a copy whose registration is in flight (or died
                # before its commit, and is reused by the next one); never an upload
                log.warning("%s is in a registry version folder, not taken as an upload; upload under a version "
                            "label such as 1.1.0", platform.store.uri(key))
                continue
            upload = Upload(key, match["model"], match["version"], _sha256(platform, key, Path(tmp)))
            if (key, upload.sha256) not in registered and not platform.store.exists(rejection_key(upload)):
                uploads.append(upload)
    return sorted(uploads, key=lambda u: (u.model, _natural(u.version)))


def _sha256(platform: Platform, key: str, workdir: Path) -> str:
    path = platform.store.download_file(key, workdir / "model.tar.gz")
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _natural(label: str) -> list:
    # digits and text alternate at the same positions, so the parts compare
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]


def validate_upload(platform: Platform, upload: Upload) -> dict:
    """Unpacks the tarball, loads it with the model's serving handlers as the endpoint would
    (fault injection included) and asks one smoke request of it. Whatever keeps the upload
    from serving raises DataValidationError naming it."""
    where = platform.store.uri(upload.key)
    try:
        spec = get_model(upload.model)
    except UnknownModelError as exc:
        raise DataValidationError(f"{where}: {exc}") from exc
    check = RESPONSE_CHECKS.get(spec.dataset)
    if check is None:
        raise DataValidationError(f"{where}: no smoke check is defined for model {spec.name} (dataset "
                                  f"{spec.dataset!r}); add one to findining_mlops.artifacts.RESPONSE_CHECKS")
    handlers = load_handlers(spec.inference_module)
    with tempfile.TemporaryDirectory() as tmp:
        archive = platform.store.download_file(upload.key, Path(tmp) / "model.tar.gz")
        model_dir = Path(tmp) / "model"
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(model_dir, filter="data")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DataValidationError(f"{where} is not a readable model.tar.gz: {exc}") from exc
        # the artifact is foreign code and data: whatever it raises is a verdict on it
        try:
            handlers = with_fault_injection(handlers, str(model_dir))
            model = handlers.model_fn(str(model_dir))
        except Exception as exc:
            raise DataValidationError(
                f"{where} does not load with {spec.inference_module}.model_fn: {type(exc).__name__}: {exc}") from exc
        _, _, body = synthetic_requests(spec, SMOKE_SEED, SMOKE_DAY, 1)[0]
        try:
            data = handlers.input_fn(json.dumps(body, ensure_ascii=False).encode(), "application/json")
            response = json.loads(handlers.output_fn(handlers.predict_fn(data, model), "application/json"))
        except Exception as exc:
            raise DataValidationError(f"{where} loads but fails a smoke request: {type(exc).__name__}: {exc}") from exc
        problem = check(body, response)
        if problem:
            raise DataValidationError(f"{where} answers a smoke request wrongly: {problem}; got {response}")
        files = sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file())
        return {"upload": upload.to_dict(), "metrics": _evaluation(model_dir, where), "files": files,
                "smoke_response": response}


def _scores_per_candidate(body: dict, response) -> str | None:
    scores = response.get("scores") if isinstance(response, dict) else None
    if not isinstance(scores, list) or len(scores) != len(body["candidates"]):
        return f"expected 'scores' with one score per candidate ({len(body['candidates'])})"
    if not all(isinstance(s, (int, float)) and 0.0 <= s <= 1.0 for s in scores):
        return "expected scores between 0 and 1"
    return None


def _sentiment_label(body: dict, response) -> str | None:
    if not isinstance(response, dict) or response.get("label") not in SENTIMENT_LABELS:
        return f"expected 'label' among {', '.join(SENTIMENT_LABELS)}"
    return None


def _aspect_scores(body: dict, response) -> str | None:
    if not isinstance(response, dict) or not isinstance(response.get("scores"), dict) \
            or not isinstance(response.get("aspects"), list):
        return "expected 'aspects' (a list) and 'scores' (aspect -> probability)"
    return None


# per dataset, as the smoke request is (traffic.frame_requests)
RESPONSE_CHECKS = {"interactions": _scores_per_candidate, "reviews": _sentiment_label, "feedback": _aspect_scores}


def _evaluation(model_dir: Path, where: str) -> dict:
    """The numeric metrics of the tarball's evaluation.json, which the training contract writes."""
    path = model_dir / contract.EVALUATION_FILE
    if not path.is_file():
        return {}
    try:
        evaluation = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataValidationError(f"{where}: {contract.EVALUATION_FILE} is not JSON: {exc}") from exc
    if not isinstance(evaluation, dict):
        raise DataValidationError(f"{where}: {contract.EVALUATION_FILE} is not a JSON object")
    return {k: v for k, v in evaluation.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def register_upload(platform: Platform, upload: Upload, validation: dict, dag_run: str = "") -> ModelVersion:
    """Registers a validated upload as ``Approved`` — a person put it there to deploy it,
    and the canary's alarms still guard it — once per key and bytes; then stores its drift
    baseline when the tarball has one."""
    baseline = all(name in validation["files"] for name in BASELINE_FILES)
    reason = f"manual upload {upload.version} ({upload.key})"
    if not baseline:
        reason += f"; no drift baseline: the tarball lacks some of {', '.join(BASELINE_FILES)}"
    lineage = {
        "uploaded_artifact": upload.key,
        "uploaded_artifact_uri": platform.store.uri(upload.key),
        "upload_version": upload.version,
        "sha256": upload.sha256,
        "source": "manual upload",
        "files": validation["files"],
        "smoke_response": validation["smoke_response"],
        "code_version": code_version(),
        "dag_run": dag_run,
    }
    version = platform.registry.register(upload.model, upload.key, status=APPROVED, metrics=validation["metrics"],
                                         lineage=lineage, reason=reason, idempotency_key=upload.idempotency_key)
    if baseline:
        store_baseline(platform, version)
    else:
        log.warning("%s v%d has no drift baseline: monitoring cannot judge its drift", version.model_name,
                    version.version)
    return version


def reject_upload(platform: Platform, upload: Upload, reason: str) -> str:
    """Records the verdict, so the next polls skip these bytes instead of alerting again."""
    key = rejection_key(upload)
    platform.store.write_bytes(key, json.dumps({**upload.to_dict(), "reason": reason}, indent=2).encode())
    return key
