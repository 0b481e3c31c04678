"""CloudWatch-style metric data points kept in the local state database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from findining_mlops.platform.local.db import StateDB
from findining_mlops.platform.ports import MetricDatum


def _dims(dimensions: dict[str, str]) -> str:
    return json.dumps(dimensions, sort_keys=True)


def _utc(when: datetime) -> str:
    """Stored and compared in UTC, as CloudWatch does: ISO strings then sort like times."""
    return when.astimezone(UTC).isoformat()


class LocalMetrics:
    def __init__(self, db: StateDB):
        self.db = db

    def put(self, namespace: str, data: list[MetricDatum]) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO metric_data VALUES (?,?,?,?,?,?)",
                [(namespace, d.name, _dims(d.dimensions), _utc(d.timestamp), d.value, d.unit) for d in data],
            )

    def query(self, namespace: str, name: str, dimensions: dict[str, str], start: datetime,
              end: datetime) -> list[MetricDatum]:
        with self.db.reader() as conn:
            rows = conn.execute(
                "SELECT * FROM metric_data WHERE namespace=? AND name=? AND dimensions=? AND ts>=? AND ts<? "
                "ORDER BY ts",
                (namespace, name, _dims(dimensions), _utc(start), _utc(end)),
            ).fetchall()
        return [
            MetricDatum(r["name"], r["value"], json.loads(r["dimensions"]), datetime.fromisoformat(r["ts"]), r["unit"])
            for r in rows
        ]
