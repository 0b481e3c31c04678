"""A/B tests in DynamoDB and their events on S3: conditional writes keep the local store's semantics."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from findining_mlops.errors import ABTestError
from findining_mlops.platform.ports import ABTest, MetricEvent

TEST = ABTest(test_id="ab-1", test_name="new ranker", model_name="recommendation",
              endpoint="ai-restaurant-recommendation-recommendation-endpoint", control_version=1, treatment_version=2,
              control_variant="recommendation-v1", treatment_variant="recommendation-v2", traffic_split=50,
              duration_days=14, success_metrics={"engaged": {"kind": "binary", "direction": "increase"}},
              guardrail_metrics={}, alpha=0.05, started_at="2026-10-01")
T0 = datetime(2026, 10, 1, 12, tzinfo=UTC)


def event(n: int, **changes) -> MetricEvent:
    return replace(MetricEvent(f"e{n}", "ab-1", f"u{n}", "control" if n % 2 else "treatment", "engaged", n % 3 / 2,
                               T0 + timedelta(minutes=n), {"n": n}), **changes)


def test_one_running_test_per_endpoint_and_create_is_idempotent(aws):
    assert aws.abtests.create(TEST) == TEST
    assert aws.abtests.create(replace(TEST, test_name="renamed")) == TEST  # same id: the stored one
    with pytest.raises(ABTestError, match="already runs A/B test ab-1"):
        aws.abtests.create(replace(TEST, test_id="ab-2"))
    finished = aws.abtests.finish("ab-1", "concluded", "treatment_wins", 2, "2026-10-15")
    assert (finished.status, finished.winner) == ("concluded", 2)
    assert aws.abtests.finish("ab-1", "stopped", "x", None, "2026-10-16") == finished  # unchanged
    assert aws.abtests.create(replace(TEST, test_id="ab-2")).test_id == "ab-2"  # the endpoint is free again
    assert [t.test_id for t in aws.abtests.list_tests()] == ["ab-1", "ab-2"]
    assert [t.test_id for t in aws.abtests.list_tests("running")] == ["ab-2"]
    with pytest.raises(ABTestError, match="no A/B test 'ab-9'"):
        aws.abtests.finish("ab-9", "stopped", "x", None, "2026-10-16")


def test_each_batch_of_events_is_written_to_s3_and_counted_once(aws):
    aws.abtests.create(TEST)
    assert aws.abtests.record([event(n) for n in range(5)]) == 5
    assert aws.abtests.record([event(n) for n in range(5)]) == 0  # a retried batch counts nothing
    assert aws.abtests.record([event(n) for n in range(5, 8)], batch_id="b2") == 3
    assert aws.store.list_keys("abtests/ab-1/events/dt=2026-10-01/")[-1] == (
        "abtests/ab-1/events/dt=2026-10-01/part-b2.parquet")
    events = aws.abtests.events("ab-1")
    assert [e.event_id for e in events] == [f"e{n}" for n in range(8)]
    assert events[1] == event(1)  # values, times and context come back as written
    assert [e.event_id for e in aws.abtests.events("ab-1", until=T0 + timedelta(minutes=2))] == ["e0", "e1"]
    assert aws.abtests.events("ab-2") == []
