"""JSON documents on the artifact store, written the one way every reader expects.

Documents are written with sorted keys and an indent, so the same content gives the same bytes
and a re-run of a task rewrites a document byte for byte.
"""

from __future__ import annotations

import json
from typing import Any

from findining_mlops.platform.ports import ArtifactStore


def dumps(document: Any) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True, default=str).encode()


def write_json(store: ArtifactStore, key: str, document: Any, *, immutable: bool = False) -> str:
    return store.write_bytes(key, dumps(document), immutable=immutable)


def read_json(store: ArtifactStore, key: str) -> Any:
    return json.loads(store.read_bytes(key))


def read_json_if_exists(store: ArtifactStore, key: str) -> Any | None:
    """The document at ``key``, or None when nothing was written there."""
    return read_json(store, key) if store.exists(key) else None
