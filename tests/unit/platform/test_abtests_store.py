"""The local A/B test store: tests keyed by id, one running test per endpoint, a finished
test stays finished, and each batch of metric events is kept once however often it is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from findining_mlops.errors import ABTestError
from findining_mlops.platform.ports import CONCLUDED, RUNNING, STOPPED, ABTest, MetricEvent

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _test(test_id: str = "t1", endpoint: str = "ep") -> ABTest:
    return ABTest(test_id, "name", "sentiment", endpoint, 1, 2, "sentiment-v1", "sentiment-v2", 50, 14,
                  {"sentiment_accuracy": {"kind": "binary", "direction": "higher_is_better"}}, {}, 0.05, "2026-11-01")


def _event(i: int, test_id: str = "t1", when: datetime = T0) -> MetricEvent:
    return MetricEvent(f"e{i}", test_id, f"u{i}", "control", "sentiment_accuracy", 1.0, when, {"inference_id": i})


def test_a_created_test_reads_back_equal_and_creating_it_again_changes_nothing(platform):
    assert platform.abtests.create(_test()) == _test()
    assert platform.abtests.create(_test()) == _test()
    assert platform.abtests.get("t1") == _test()
    assert platform.abtests.list_tests(RUNNING) == [_test()]
    assert platform.abtests.get("nope") is None


def test_a_second_running_test_on_the_same_endpoint_is_refused_and_not_stored(platform):
    platform.abtests.create(_test("t1"))
    with pytest.raises(ABTestError, match="already runs A/B test t1"):
        platform.abtests.create(_test("t2"))
    assert platform.abtests.get("t2") is None
    platform.abtests.create(_test("t3", endpoint="other"))  # another endpoint is free


def test_finishing_frees_the_endpoint_and_a_finished_test_stays_as_it_ended(platform):
    platform.abtests.create(_test("t1"))
    done = platform.abtests.finish("t1", STOPPED, "stopped_srm", None, "2026-11-03")
    assert (done.status, done.decision, done.winner, done.concluded_at) == (STOPPED, "stopped_srm", None, "2026-11-03")
    assert platform.abtests.finish("t1", CONCLUDED, "treatment_wins", 2, "2026-11-04") == done
    platform.abtests.create(_test("t2"))
    assert [t.test_id for t in platform.abtests.list_tests(STOPPED)] == ["t1"]


def test_finish_refuses_an_unknown_test_or_a_running_status(platform):
    with pytest.raises(ABTestError, match="no A/B test 'nope'"):
        platform.abtests.finish("nope", STOPPED, "stopped_srm", None, "2026-11-03")
    platform.abtests.create(_test())
    with pytest.raises(ABTestError, match="concluded or stopped"):
        platform.abtests.finish("t1", RUNNING, "", None, "2026-11-03")


def test_a_batch_of_events_is_kept_once_and_read_back_up_to_a_time(platform):
    events = [_event(i, when=T0 + timedelta(hours=i)) for i in range(5)]
    assert platform.abtests.record(events) == 5
    assert platform.abtests.record(list(reversed(events))) == 0  # the same events resent: a retried batch
    assert platform.abtests.record([_event(9, when=T0 + timedelta(hours=9))], batch_id="b9") == 1
    assert platform.abtests.record([_event(9, when=T0 + timedelta(hours=9))], batch_id="b9") == 0
    assert [e.event_id for e in platform.abtests.events("t1")] == ["e0", "e1", "e2", "e3", "e4", "e9"]
    assert [e.event_id for e in platform.abtests.events("t1", until=T0 + timedelta(hours=2))] == ["e0", "e1"]
    assert platform.abtests.events("t1")[0] == events[0]
    assert platform.abtests.events("other") == []
