"""The registry's copy of an artifact, shared by both adapters: a version's own key, written
once, holding exactly the bytes that were checked."""

from __future__ import annotations

from findining_mlops.errors import ImmutableArtifactError, RegistryError
from findining_mlops.platform.ports import ArtifactStore, CheckedArtifact
from findining_mlops.store.layout import model_artifact_key


def copy_artifact(store: ArtifactStore, model_name: str, artifact_key: str, version: int,
                  checked: CheckedArtifact | None) -> str:
    """Copies the artifact (the ``checked`` version of it, verified by its sha256) to the
    version's own key, which is never overwritten; returns that key. The bytes are read
    once and those same bytes are hashed and written, so nothing can change in between."""
    target = model_artifact_key(model_name, version)
    try:
        data = store.read_bytes(artifact_key, checked.version_id if checked else "")
    except FileNotFoundError as exc:
        raise RegistryError(f"cannot register {model_name}: {exc}") from exc
    if checked is not None:
        checked.verify(store.uri(artifact_key), data)
    try:
        store.write_bytes(target, data, immutable=True)
    except ImmutableArtifactError as exc:
        # the same bytes left by an attempt that died before its commit are reused;
        # anything else at that key is somebody's artifact and stays untouched
        if store.read_bytes(target) != data:
            raise RegistryError(f"cannot register {model_name} v{version}: {exc}; "
                                "the registry was not changed") from exc
    return target
