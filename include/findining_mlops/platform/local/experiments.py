"""A/B tests and their metric events in SQLite, keyed the way the DynamoDB tables are:
tests by ``test_id``, events by ``(test_id, event_id)``."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

from findining_mlops.errors import ExperimentError
from findining_mlops.platform.local.db import StateDB
from findining_mlops.platform.ports import RUNNING, TEST_STATUSES, ABTest, MetricEvent


class LocalExperiments:
    def __init__(self, db: StateDB):
        self.db = db

    def create(self, test: ABTest) -> ABTest:
        with self.db.transaction() as conn:
            existing = conn.execute("SELECT definition FROM ab_tests WHERE test_id=?", (test.test_id,)).fetchone()
            if existing:
                return ABTest(**json.loads(existing["definition"]))
            busy = conn.execute("SELECT test_id FROM ab_tests WHERE endpoint=? AND status=?",
                                (test.endpoint, RUNNING)).fetchone()
            if busy:
                raise ExperimentError(f"{test.endpoint} already runs A/B test {busy['test_id']}; one test per "
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
            raise ExperimentError(f"a test finishes as concluded or stopped, not {status!r}")
        with self.db.transaction() as conn:
            row = conn.execute("SELECT definition FROM ab_tests WHERE test_id=?", (test_id,)).fetchone()
            if row is None:
                raise ExperimentError(f"there is no A/B test {test_id!r}")
            test = ABTest(**json.loads(row["definition"]))
            if test.status != RUNNING:
                return test
            test = replace(test, status=status, decision=decision, winner=winner, concluded_at=when)
            conn.execute("UPDATE ab_tests SET status=?, definition=? WHERE test_id=?",
                         (status, json.dumps(test.to_dict(), sort_keys=True), test_id))
        return test

    def record(self, events: list[MetricEvent]) -> int:
        rows = [(e.test_id, e.event_id, e.user_id, e.variant, e.metric_name, float(e.metric_value),
                 _utc(e.timestamp), json.dumps(e.context, sort_keys=True, ensure_ascii=False)) for e in events]
        with self.db.transaction() as conn:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO ab_test_events VALUES (?,?,?,?,?,?,?,?)", rows)
            return conn.total_changes - before

    def events(self, test_id: str, until: datetime | None = None) -> list[MetricEvent]:
        with self.db.reader() as conn:
            rows = conn.execute(
                "SELECT * FROM ab_test_events WHERE test_id=? AND (? IS NULL OR ts < ?) ORDER BY ts, event_id",
                (test_id, _utc(until) if until else None, _utc(until) if until else None),
            ).fetchall()
        return [MetricEvent(r["event_id"], r["test_id"], r["user_id"], r["variant"], r["metric_name"],
                            r["metric_value"], datetime.fromisoformat(r["ts"]), json.loads(r["context"]))
                for r in rows]


def _utc(when: datetime) -> str:
    """ISO text in UTC with a fixed width, so text order is time order."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")
