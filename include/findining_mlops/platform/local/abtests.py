"""A/B tests in SQLite, keyed the way the DynamoDB table is (by ``test_id``); their metric
events are parquet batches on the store (``findining_mlops.store.abtest_events``)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from findining_mlops.errors import ABTestError
from findining_mlops.platform.local.db import StateDB
from findining_mlops.platform.ports import RUNNING, TEST_STATUSES, ABTest, ArtifactStore, MetricEvent
from findining_mlops.store.abtest_events import read_events, write_batch


class LocalABTests:
    def __init__(self, db: StateDB, store: ArtifactStore):
        self.db = db
        self.store = store

    def create(self, test: ABTest) -> ABTest:
        with self.db.transaction() as conn:
            existing = conn.execute("SELECT definition FROM ab_tests WHERE test_id=?", (test.test_id,)).fetchone()
            if existing:
                return ABTest(**json.loads(existing["definition"]))
            busy = conn.execute("SELECT test_id FROM ab_tests WHERE endpoint=? AND status=?",
                                (test.endpoint, RUNNING)).fetchone()
            if busy:
                raise ABTestError(f"{test.endpoint} already runs A/B test {busy['test_id']}; one test per "
                                      "endpoint at a time — wait for it to conclude or stop it first")
            conn.execute("INSERT INTO ab_tests VALUES (?,?,?,?)",
                         (test.test_id, test.endpoint, test.status, json.dumps(test.to_dict(), sort_keys=True)))
        return test

    def get(self, test_id: str) -> ABTest | None:
        with self.db.reader() as conn:
            row = conn.execute("SELECT definition FROM ab_tests WHERE test_id=?", (test_id,)).fetchone()
        return ABTest(**json.loads(row["definition"])) if row else None

    def list_tests(self, status: str | None = None) -> list[ABTest]:
        with self.db.reader() as conn:
            rows = conn.execute("SELECT definition FROM ab_tests WHERE ? IS NULL OR status=? ORDER BY test_id",
                                (status, status)).fetchall()
        return [ABTest(**json.loads(r["definition"])) for r in rows]

    def finish(self, test_id: str, status: str, decision: str, winner: int | None, when: str) -> ABTest:
        if status not in TEST_STATUSES or status == RUNNING:
            raise ABTestError(f"a test finishes as concluded or stopped, not {status!r}")
        with self.db.transaction() as conn:
            row = conn.execute("SELECT definition FROM ab_tests WHERE test_id=?", (test_id,)).fetchone()
            if row is None:
                raise ABTestError(f"there is no A/B test {test_id!r}")
            test = ABTest(**json.loads(row["definition"]))
            if test.status != RUNNING:
                return test
            test = replace(test, status=status, decision=decision, winner=winner, concluded_at=when)
            conn.execute("UPDATE ab_tests SET status=?, definition=? WHERE test_id=?",
                         (status, json.dumps(test.to_dict(), sort_keys=True), test_id))
        return test

    def record(self, events: list[MetricEvent], batch_id: str | None = None) -> int:
        return write_batch(self.store, events, batch_id)

    def events(self, test_id: str, until: datetime | None = None) -> list[MetricEvent]:
        return read_events(self.store, test_id, until)
