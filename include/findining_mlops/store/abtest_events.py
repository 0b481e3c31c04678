"""A/B test events as columnar data on the store, the same keys locally and on S3::

    abtests/<test-id>/events/dt=YYYY-MM-DD/part-<batch-id>.parquet

Why files rather than a table of items: the analysis reads every event of a test, which SQL engines (DuckDB here,
Athena on S3) scan from parquet at memory speed, while one ``PutItem`` per event throttles a table and makes each
day's analysis reload everything. The A/B test store keeps test definitions and state only; both of its adapters
write and read the events here, and the analysis (``abtest.engine``) scans the same files.

A batch is written once: its part files are immutable writes (``If-None-Match`` on S3), so a retried batch finds
its files and counts nothing new. The batch id is the caller's, or a hash of the batch's event ids, so the same
events sent again are the same batch. Events of one batch are split by their UTC day, the partition the daily
analysis reads.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from findining_mlops.errors import ImmutableArtifactError
from findining_mlops.platform.ports import ArtifactStore, MetricEvent
from findining_mlops.store.layout import abtest_event_batch_key, abtest_events_prefix, partition_day

SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("user_id", pa.string()),
    ("variant", pa.string()),
    ("metric_name", pa.string()),
    ("metric_value", pa.float64()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("context", pa.string()),  # JSON
])


def batch_id_of(events: list[MetricEvent]) -> str:
    """The id of a batch that carries none: the same events give the same id, so a resend is a retry."""
    return hashlib.sha256("\n".join(sorted(e.event_id for e in events)).encode()).hexdigest()[:32]


def write_batch(store: ArtifactStore, events: list[MetricEvent], batch_id: str | None = None) -> int:
    """Writes the events of one test as one batch; returns how many were new (0 for a retried batch)."""
    if not events:
        return 0
    tests = {e.test_id for e in events}
    if len(tests) != 1:
        raise ValueError(f"a batch holds the events of one A/B test, got {sorted(tests)}")
    test_id, batch_id = tests.pop(), batch_id or batch_id_of(events)
    by_day: dict[date, list[MetricEvent]] = defaultdict(list)
    for event in events:
        by_day[_utc(event.timestamp).date()].append(event)
    new = 0
    for day, day_events in sorted(by_day.items()):
        key = abtest_event_batch_key(test_id, day, batch_id)
        try:
            store.write_bytes(key, _parquet(day_events), immutable=True)
        except ImmutableArtifactError:
            continue  # this batch's day was written by an earlier attempt
        new += len(day_events)
    return new


def read_events(store: ArtifactStore, test_id: str, until: datetime | None = None) -> list[MetricEvent]:
    """The test's events with ``timestamp < until`` (all when None), in time order: for inspection and small tests;
    the analysis reads the files with SQL instead."""
    tables = [pq.read_table(io.BytesIO(store.read_bytes(key)), schema=SCHEMA)
              for key in part_keys(store, test_id, until.date() if until else None)]
    rows = pa.concat_tables(tables).to_pylist() if tables else []
    if until is not None:
        rows = [r for r in rows if r["timestamp"] < _utc(until)]
    rows.sort(key=lambda r: (r["timestamp"], r["event_id"]))
    return [MetricEvent(r["event_id"], test_id, r["user_id"], r["variant"], r["metric_name"], r["metric_value"],
                        r["timestamp"], json.loads(r["context"])) for r in rows]


def part_keys(store: ArtifactStore, test_id: str, last_day: date | None = None,
              first_day: date | None = None) -> list[str]:
    """The part files of the days ``first_day``..``last_day`` (open ends when None), in key order."""
    keys = [(k, partition_day(k)) for k in store.list_keys(abtest_events_prefix(test_id)) if k.endswith(".parquet")]
    return [k for k, day in keys if day is not None and (last_day is None or day <= last_day)
            and (first_day is None or day >= first_day)]


def _parquet(events: list[MetricEvent]) -> bytes:
    table = pa.Table.from_pydict({
        "event_id": [e.event_id for e in events], "user_id": [e.user_id for e in events],
        "variant": [e.variant for e in events], "metric_name": [e.metric_name for e in events],
        "metric_value": [float(e.metric_value) for e in events], "timestamp": [_utc(e.timestamp) for e in events],
        "context": [json.dumps(e.context, sort_keys=True, ensure_ascii=False) for e in events],
    }, schema=SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _utc(when: datetime) -> datetime:
    return (when.replace(tzinfo=UTC) if when.tzinfo is None else when).astimezone(UTC)
