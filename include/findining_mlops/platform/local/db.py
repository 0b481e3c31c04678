"""The local backend's state: one SQLite file, safe for several processes at once."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_packages (
    model_name      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    status          TEXT NOT NULL,
    artifact_key    TEXT NOT NULL,
    metrics         TEXT NOT NULL,
    lineage         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status_note     TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    label           TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (model_name, version),
    UNIQUE (model_name, idempotency_key)
);
CREATE TABLE IF NOT EXISTS endpoint_configs (
    config_name TEXT PRIMARY KEY,
    endpoint    TEXT NOT NULL,
    variants    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoints (
    endpoint    TEXT PRIMARY KEY,
    config_name TEXT NOT NULL,
    status      TEXT NOT NULL,
    weights     TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metric_data (
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    ts         TEXT NOT NULL,
    value      REAL NOT NULL,
    unit       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deployment_locks (
    endpoint    TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    acquired_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deployment_events (
    model_name TEXT NOT NULL,
    version    INTEGER NOT NULL,
    endpoint   TEXT NOT NULL,
    event      TEXT NOT NULL,
    detail     TEXT NOT NULL,
    run        TEXT NOT NULL,
    at         TEXT NOT NULL,
    UNIQUE (model_name, version, endpoint, event, run)
);
CREATE TABLE IF NOT EXISTS ab_tests (
    test_id    TEXT PRIMARY KEY,
    endpoint   TEXT NOT NULL,
    status     TEXT NOT NULL,
    definition TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS model_package_labels ON model_packages (model_name, label) WHERE label != '';
CREATE INDEX IF NOT EXISTS metric_lookup ON metric_data (namespace, name, dimensions, ts);
"""


class StateDB:
    """Each thread keeps one connection: opening one costs about 40x a small query, and an endpoint
    reads its weights on every request. In autocommit mode each statement sees the latest commit of any
    process, as a fresh connection would."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        conn = self._thread_connection()
        conn.execute("PRAGMA journal_mode=WAL")
        _add_label_column(conn)
        conn.executescript(SCHEMA)

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=60000")
        return conn

    def _thread_connection(self) -> sqlite3.Connection:
        """This thread's connection; a forked child opens its own (a connection must not cross a fork)."""
        if getattr(self._local, "pid", None) != os.getpid():
            self._local.conn, self._local.pid = self.connect(), os.getpid()
        return self._local.conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front, so read-then-write is atomic."""
        conn = self._thread_connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # the connection outlives this transaction: never leave one open
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        yield self._thread_connection()


def _add_label_column(conn: sqlite3.Connection) -> None:
    """A state written before versions had labels gets the column (its versions are
    shown by number until then)."""
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(model_packages)")}
    if columns and "label" not in columns:
        conn.execute("ALTER TABLE model_packages ADD COLUMN label TEXT NOT NULL DEFAULT ''")
