"""Model package groups and versions with SageMaker's approval statuses, in SQLite."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import cast

from findining_mlops.errors import RegistryError
from findining_mlops.platform.artifact_copy import copy_artifact
from findining_mlops.platform.local.db import StateDB
from findining_mlops.platform.local.store import LocalArtifactStore
from findining_mlops.platform.ports import APPROVAL_STATUSES, CheckedArtifact, ModelVersion
from findining_mlops.platform.records import DeploymentEvent
from findining_mlops.registry import versions


class LocalModelRegistry:
    def __init__(self, db: StateDB, store: LocalArtifactStore):
        self.db = db
        self.store = store

    def register(self, model_name: str, artifact_key: str, *, status: str, metrics: dict, lineage: dict, reason: str,
                 idempotency_key: str, label: str | None = None,
                 checked: CheckedArtifact | None = None) -> ModelVersion:
        _check_status(status)
        if label is not None:
            versions.check_label(model_name, label)
        with self.db.transaction() as conn:
            existing = conn.execute(
                "SELECT * FROM model_packages WHERE model_name=? AND idempotency_key=?",
                (model_name, idempotency_key),
            ).fetchone()
            if existing:
                return self._row(existing)
            version = conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_packages WHERE model_name=?",
                (model_name,),
            ).fetchone()[0]
            labels = {r["label"]: r["version"] for r in conn.execute(
                "SELECT label, version FROM model_packages WHERE model_name=? AND label != ''", (model_name,))}
            label = versions.allocate_label(model_name, label, labels)
            target = copy_artifact(self.store, model_name, artifact_key, version, checked)
            created = datetime.now(UTC).isoformat(timespec="seconds")
            conn.execute(
                "INSERT INTO model_packages VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    model_name, version, status, target, json.dumps(metrics, sort_keys=True),
                    json.dumps(lineage, sort_keys=True), reason, "", idempotency_key, created, label,
                ),
            )
            row = conn.execute(
                "SELECT * FROM model_packages WHERE model_name=? AND version=?", (model_name, version)
            ).fetchone()
            return self._row(row)

    def get(self, model_name: str, version: int) -> ModelVersion:
        with self.db.reader() as conn:
            row = conn.execute(
                "SELECT * FROM model_packages WHERE model_name=? AND version=?", (model_name, int(version))
            ).fetchone()
        if row is None:
            raise RegistryError(f"model {model_name!r} has no version {version}")
        return self._row(row)

    def list_versions(self, model_name: str | None = None) -> list[ModelVersion]:
        query, args = _of_model("SELECT * FROM model_packages", model_name)
        with self.db.reader() as conn:
            rows = conn.execute(query + " ORDER BY model_name, version", args).fetchall()
        return [self._row(r) for r in rows]

    def latest(self, model_name: str, status: str = "Approved") -> ModelVersion | None:
        with self.db.reader() as conn:
            row = conn.execute(
                "SELECT * FROM model_packages WHERE model_name=? AND status=? ORDER BY version DESC LIMIT 1",
                (model_name, status),
            ).fetchone()
        return self._row(row) if row else None

    def update_status(self, model_name: str, version: int, status: str, note: str = "") -> ModelVersion:
        _check_status(status)
        with self.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE model_packages SET status=?, status_note=? WHERE model_name=? AND version=?",
                (status, note, model_name, int(version)),
            ).rowcount
        if not changed:
            raise RegistryError(f"model {model_name!r} has no version {version}")
        return self.get(model_name, version)

    def record_deployment(self, model_name: str, version: int, endpoint: str, event: str, detail: str,
                          run: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO deployment_events VALUES (?,?,?,?,?,?,?)",
                (model_name, int(version), endpoint, event, detail, run,
                 datetime.now(UTC).isoformat(timespec="seconds")),
            )

    def deployment_history(self, model_name: str | None = None) -> list[DeploymentEvent]:
        query, args = _of_model("SELECT * FROM deployment_events", model_name)
        with self.db.reader() as conn:
            return [cast(DeploymentEvent, dict(r)) for r in conn.execute(query + " ORDER BY rowid", args)]

    def _row(self, row: sqlite3.Row) -> ModelVersion:
        return ModelVersion(
            model_name=row["model_name"],
            version=row["version"],
            status=row["status"],
            artifact_key=row["artifact_key"],
            artifact_uri=self.store.uri(row["artifact_key"]),
            metrics=json.loads(row["metrics"]),
            lineage=json.loads(row["lineage"]),
            created_at=row["created_at"],
            reason=row["reason"],
            status_note=row["status_note"],
            label=row["label"],
        )


def _of_model(query: str, model_name: str | None) -> tuple[str, tuple[str, ...]]:
    """``query`` and its arguments, limited to one model's rows when a model is named."""
    return (query + " WHERE model_name=?", (model_name,)) if model_name else (query, ())


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise RegistryError(f"approval status {status!r} is not one of {', '.join(APPROVAL_STATUSES)}")
