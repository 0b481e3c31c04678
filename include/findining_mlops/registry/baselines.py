"""A version's drift baseline: the reference profile its training job computed, copied out of
the model artifact next to the version (``baselines/<model>/<version>/``) so monitoring
reads it without unpacking, let alone loading, the model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from findining_mlops.models import contract
from findining_mlops.models.contract import extract_artifact
from findining_mlops.platform.ports import ModelVersion, Platform
from findining_mlops.store.layout import baseline_key, baseline_prefix

# what a version's drift baseline is made of, all written by the training contract
BASELINE_FILES = (contract.REFERENCE_FILE, contract.METADATA_FILE, contract.EVALUATION_FILE)


def store_baseline(platform: Platform, version: ModelVersion) -> str:
    """Copies the reference profile computed at training time next to the version."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = platform.store.download_file(version.artifact_key, Path(tmp) / "model.tar.gz")
        model_dir = extract_artifact(archive, Path(tmp) / "model")  # files only: the model is not loaded
        for name in BASELINE_FILES:
            platform.store.upload_file(model_dir / name, baseline_key(version.model_name, version.version, name))
    return baseline_prefix(version.model_name, version.version)
