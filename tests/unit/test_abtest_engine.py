"""The A/B SQL on the store: the daily incremental analysis equals a from-scratch one, a re-run of a day writes
the same bytes, and the one SQL source is valid Trino for Athena."""

from __future__ import annotations

from datetime import date, datetime, timedelta, UTC

import numpy as np
import pandas as pd
import pytest
import sqlglot

from findining_mlops.abtest import engine, queries, stats
from findining_mlops.platform.ports import MetricEvent

TEST_ID = "t-sql"
START = date(2026, 11, 1)
DAYS = 5
CONFIG = {"control_share": 0.5, "alpha": 0.05,
          "success_metrics": {"converted": {"kind": "binary"},
                              "satisfaction": {"kind": "continuous", "covariate": "pre_satisfaction"}},
          "guardrail_metrics": {"latency_ms": {"kind": "continuous", "direction": "lower_is_better"}}}


def _day_events(day: date, rng) -> list[MetricEvent]:
    """A day's outcomes of returning users: some users come back on later days, so the days' partial aggregates
    overlap and merging must add them up per user."""
    events = []
    when = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    for u in rng.choice(300, size=120, replace=False):
        user, variant = f"u{u}", "treatment" if u % 2 else "control"
        for n in range(int(rng.integers(1, 4))):
            for metric, value in (("converted", float(rng.random() < 0.3 + 0.05 * (u % 2))),
                                  ("satisfaction", float(rng.normal(3 + 0.1 * (u % 2), 1))),
                                  ("latency_ms", float(rng.gamma(4, 30)))):
                events.append(MetricEvent(f"{day}-{u}-{n}-{metric}", TEST_ID, user, variant, metric, value,
                                          when + timedelta(minutes=n)))
        if u % 3 and day == START:  # the pre-period covariate, for two thirds of the users
            events.append(MetricEvent(f"pre-{u}", TEST_ID, user, variant, "pre_satisfaction",
                                      float(rng.normal(3, 1)), when))
    return events


@pytest.fixture
def recorded(platform) -> list[MetricEvent]:
    rng = np.random.default_rng(16)
    every = []
    for offset in range(DAYS):
        events = _day_events(START + timedelta(days=offset), rng)
        for batch in (events[: len(events) // 2], events[len(events) // 2:]):  # two batches a day
            platform.abtests.record(batch)
        every += events
    return every


def _frame(events: list[MetricEvent]) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [e.user_id for e in events], "variant": [e.variant for e in events],
                         "metric_name": [e.metric_name for e in events],
                         "metric_value": [e.metric_value for e in events],
                         "timestamp": [e.timestamp for e in events]})


def _assert_close(merged, scratch, path=""):
    if isinstance(scratch, dict):
        assert merged.keys() == scratch.keys(), path
        for key in scratch:
            _assert_close(merged[key], scratch[key], f"{path}.{key}")
    elif isinstance(scratch, float):
        assert merged == pytest.approx(scratch, rel=1e-9, abs=1e-12), path
    else:
        assert merged == scratch, path


def test_each_days_merged_analysis_equals_a_from_scratch_analysis_of_every_event_so_far(platform, recorded):
    plan = stats.sql_plan(CONFIG)
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        merged = stats.analyze_moments(engine.daily_moments(platform.store, TEST_ID, plan, day, START), CONFIG)
        so_far = [e for e in recorded if e.timestamp.date() <= day]
        _assert_close(merged, stats.analyze(_frame(so_far), CONFIG))
        assert merged["metrics"]["satisfaction"]["cuped"]["variance_reduction"] >= 0
    # day 2 onwards read only their own day's events: the running table of the day before carries the rest
    assert platform.store.exists(engine.users_key(TEST_ID, START + timedelta(days=DAYS - 1), "partial"))


def test_a_rerun_of_a_day_writes_the_same_bytes_and_a_missing_day_before_is_rebuilt_from_the_events(
        platform, recorded):
    plan = stats.sql_plan(CONFIG)
    for offset in range(3):
        first = engine.daily_moments(platform.store, TEST_ID, plan, START + timedelta(days=offset), START)
    last = START + timedelta(days=2)
    keys = [engine.users_key(TEST_ID, last, table) for table in ("partial", "running")]
    before = [platform.store.read_bytes(k) for k in keys]
    again = engine.daily_moments(platform.store, TEST_ID, plan, last, START)
    assert [platform.store.read_bytes(k) for k in keys] == before
    assert again == first  # the same bits, so the same analysis.json

    platform.store.delete_prefix(f"abtests/{TEST_ID}/users/")  # e.g. a backfill that starts at day 3
    _assert_close(engine.daily_moments(platform.store, TEST_ID, plan, last, START), again)


def test_merging_a_days_users_into_the_running_table_adds_them_up_and_keeps_its_row_order():
    plan = stats.sql_plan(CONFIG)
    duckdb = engine.DuckDB(deterministic=True)
    rng = np.random.default_rng(3)
    days = [_day_events(START + timedelta(days=d), rng) for d in range(2)]
    for d, events in enumerate(days):
        duckdb.connection.register(f"day{d}", stats._events_table(_frame(events)))
    duckdb.connection.register("together", stats._events_table(_frame(days[0] + days[1])))
    running, partial, scratch = (duckdb.connection.sql(queries.user_sql(plan, t)).to_arrow_table()
                                 for t in ("day0", "day1", "together"))

    merged = engine.merge_users(plan, running, partial)

    assert merged.schema == running.schema
    users = merged["user_id"].to_pylist()
    new = [u for u in partial["user_id"].to_pylist() if u not in set(running["user_id"].to_pylist())]
    assert new and users == running["user_id"].to_pylist() + new  # updated in place, new users after
    expected = {row["user_id"]: row for row in scratch.to_pylist()}
    for row in merged.to_pylist():
        _assert_close(row, expected[row["user_id"]])


def test_a_batch_sent_again_is_not_counted_twice(platform, recorded):
    plan = stats.sql_plan(CONFIG)
    first = engine.daily_moments(platform.store, TEST_ID, plan, START, START)
    day_one = [e for e in recorded if e.timestamp.date() == START]
    assert platform.abtests.record(day_one[: len(day_one) // 2]) == 0
    _assert_close(engine.daily_moments(platform.store, TEST_ID, plan, START, START), first)


def test_broken_events_in_the_files_are_named_by_the_daily_analysis(platform, recorded):
    stray = MetricEvent("x", TEST_ID, "u1", "control", "latency_ms", 100.0,
                        datetime(2026, 11, 3, 10, tzinfo=UTC))  # u1 is a treatment user
    platform.abtests.record([stray])
    plan = stats.sql_plan(CONFIG)
    engine.daily_moments(platform.store, TEST_ID, plan, START + timedelta(days=1), START)
    with pytest.raises(stats.DataValidationError, match="1 users appear in both variants, e.g. 'u1'"):
        engine.daily_moments(platform.store, TEST_ID, plan, START + timedelta(days=2), START)


def test_the_one_sql_source_is_valid_trino_for_athena():
    plan = stats.sql_plan(CONFIG)
    events = ('(SELECT user_id, variant, metric_name, metric_value FROM "findining"."ab_test_events" '
              "WHERE test_id = 'it''s' AND dt <= '2026-11-05')")
    for sql in (queries.analysis_sql(plan, events), queries.unknown_variants_sql(events),
                queries.non_finite_sql(plan, events), queries.bad_binary_sql("converted", events)):
        trino = queries.to_athena(sql)
        sqlglot.parse_one(trino, read="trino")  # parses back in Athena's dialect
        lowered = trino.lower()
        assert "fsum(" not in lowered and "isfinite(" not in lowered and "read_parquet" not in lowered
    assert "is_finite(" in queries.to_athena(queries.non_finite_sql(plan, events)).lower()
    assert "'it''s'" in queries.to_athena(queries.analysis_sql(plan, events))


def test_the_client_writes_one_batch_per_test_and_a_resent_batch_counts_nothing(platform):
    from findining_mlops.client import MLService
    from findining_mlops.platform.ports import ABTest

    for model, metric in (("recommendation", "recommendation_accuracy"), ("sentiment", "sentiment_accuracy")):
        platform.abtests.create(ABTest(f"t-{model}", model, model, f"{model}-endpoint", 1, 2, "v1", "v2", 50, 14,
                                           {metric: {"kind": "binary", "direction": "higher_is_better"}}, {}, 0.05,
                                           START.isoformat()))
    when = {"timestamp": "2026-11-01T10:00:00+00:00"}
    results = [("alice", "recommendation", "recommendation_accuracy", 1.0, {**when, "inference_id": "r1"}),
               ("bob", "sentiment", "sentiment_accuracy", 0.0, {**when, "inference_id": "s1"}),
               ("carol", "sentiment", "sentiment_accuracy", 1.0, {**when, "inference_id": "s2"})]
    service = MLService(platform)
    assert service.record_ab_test_results(results) == 3
    assert service.record_ab_test_results(results) == 0
    assert [len(platform.abtests.events(f"t-{m}")) for m in ("recommendation", "sentiment")] == [1, 2]
    assert len(platform.store.list_keys("abtests/t-sentiment/events/dt=2026-11-01/")) == 1


def test_parquet_files_read_by_duckdb_give_the_figures_of_the_same_rows_in_memory(recorded, tmp_path):
    frame = _frame(recorded)
    halves = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    frame.iloc[: len(frame) // 2].to_parquet(halves[0])
    frame.iloc[len(frame) // 2:].to_parquet(halves[1])
    _assert_close(stats.analyze_parquet(halves, CONFIG), stats.analyze(frame, CONFIG))
