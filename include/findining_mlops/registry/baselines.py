"""A version's drift baseline: the reference profile its training job computed, copied out of
the model artifact next to the version (``baselines/<model>/<version>/``) so monitoring
reads it without unpacking, let alone loading, the model."""

from __future__ import annotations

import shutil

from findining_mlops.models import contract
from findining_mlops.platform.ports import ModelVersion, Platform
from findining_mlops.platform.sandbox import unpack, workspace
from findining_mlops.store.layout import baseline_key, baseline_prefix

# what a version's drift baseline is made of, all written by the training contract
BASELINE_FILES = (contract.REFERENCE_FILE, contract.METADATA_FILE, contract.EVALUATION_FILE)


def store_baseline(platform: Platform, version: ModelVersion) -> str:
    """Copies the reference profile computed at training time next to the version."""
    folder = workspace("baseline-")
    try:
        archive = platform.store.download_file(version.artifact_key, folder / "model.tar.gz")
        model_dir = unpack(archive, folder / "model")  # files only, unpacked in the sandbox: nothing is loaded
        for name in BASELINE_FILES:
            platform.store.upload_file(model_dir / name, baseline_key(version.model_name, version.version, name))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return baseline_prefix(version.model_name, version.version)
