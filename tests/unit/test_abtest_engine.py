"""The A/B SQL on the store: the daily incremental analysis equals a from-scratch one, a re-run of a day writes
the same bytes, and the one SQL source is valid Trino for Athena."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlglot

from findining_mlops.abtest import analysis, engine, queries, stats
from findining_mlops.platform.ports import MetricEvent
from findining_mlops.store import layout
from findining_mlops.store.abtest_events import part_keys

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
    plan = analysis.sql_plan(CONFIG)
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        merged = stats.analyze_moments(engine.daily_moments(platform.store, TEST_ID, plan, day, START), CONFIG)
        so_far = [e for e in recorded if e.timestamp.date() <= day]
        _assert_close(merged, analysis.analyze(_frame(so_far), CONFIG))
        assert merged["metrics"]["satisfaction"]["cuped"]["variance_reduction"] >= 0
        assert platform.store.exists(layout.abtest_running_users_key(TEST_ID, day))


def test_a_day_after_the_first_reads_only_its_own_events(platform, recorded):
    plan = analysis.sql_plan(CONFIG)
    for offset in range(DAYS - 1):
        engine.daily_moments(platform.store, TEST_ID, plan, START + timedelta(days=offset), START)
    last = START + timedelta(days=DAYS - 1)
    for key in part_keys(platform.store, TEST_ID, last - timedelta(days=1)):
        platform.store.path(key).unlink()  # the running table of the day before carries them

    merged = stats.analyze_moments(engine.daily_moments(platform.store, TEST_ID, plan, last, START), CONFIG)

    _assert_close(merged, analysis.analyze(_frame(recorded), CONFIG))


def test_a_rerun_of_a_day_writes_the_same_bytes_and_a_rebuild_from_every_event_equals_the_daily_chain(
        platform, recorded):
    plan = analysis.sql_plan(CONFIG)
    for offset in range(3):
        first = engine.daily_moments(platform.store, TEST_ID, plan, START + timedelta(days=offset), START)
    last = START + timedelta(days=2)
    key = layout.abtest_running_users_key(TEST_ID, last)
    before = platform.store.read_bytes(key)
    again = engine.daily_moments(platform.store, TEST_ID, plan, last, START)
    assert platform.store.read_bytes(key) == before
    assert again == first  # the same bits, so the same analysis.json

    platform.store.delete_prefix(f"abtests/{TEST_ID}/users/")  # e.g. a backfill that starts at day 3
    assert engine.daily_moments(platform.store, TEST_ID, plan, last, START) == first
    assert platform.store.read_bytes(key) == before


def test_folding_days_into_the_running_table_sums_each_users_events_as_the_per_user_sql_does(platform, recorded):
    plan = analysis.sql_plan(CONFIG)
    duckdb = engine.DuckDB()
    days = [[platform.store.path(k) for k in part_keys(platform.store, TEST_ID, day, day)]
            for day in (START, START + timedelta(days=1))]

    day_by_day = engine.RunningUsers.empty(plan).fold(duckdb, plan, days[0]).fold(duckdb, plan, days[1])
    at_once = engine.RunningUsers.empty(plan).fold(duckdb, plan, days[0] + days[1])

    assert day_by_day.table.equals(at_once.table)
    users = day_by_day.table.to_pylist()
    first_seen = list(dict.fromkeys(e.user_id for e in sorted(
        (e for e in recorded if e.timestamp.date() <= START + timedelta(days=1)), key=lambda e: e.timestamp.date())))
    assert sorted(u["user_id"] for u in users) == sorted(first_seen)
    expected = {row["user_id"]: row for row in duckdb.rows(queries.user_sql(
        plan, engine.parquet_relation(days[0] + days[1])))}
    for user in users:
        sql = expected[user["user_id"]]
        assert user["arms"] == sql["arms"]
        assert user["events"] == sql["events"]
        for k in range(len(plan.metrics)):
            assert user[f"n{k}"] == sql[f"n{k}"]
            assert user[f"v{k}"] == pytest.approx(sql[f"v{k}"] or 0.0, rel=1e-12)


def test_a_batch_sent_again_is_not_counted_twice(platform, recorded):
    plan = analysis.sql_plan(CONFIG)
    first = engine.daily_moments(platform.store, TEST_ID, plan, START, START)
    day_one = [e for e in recorded if e.timestamp.date() == START]
    assert platform.abtests.record(day_one[: len(day_one) // 2]) == 0
    _assert_close(engine.daily_moments(platform.store, TEST_ID, plan, START, START), first)


@pytest.mark.parametrize(("user", "variant", "metric", "value", "message"), [
    ("u1", "control", "latency_ms", 100.0, "1 users appear in both variants, e.g. 'u1'"),  # u1 is a treatment user
    ("u2", "holdout", "latency_ms", 100.0, r"variant values other than 'control' and 'treatment': \['holdout'\]"),
    ("u2", "control", "converted", 2.0, "binary metric 'converted' has values other than 0 and 1 in 1 rows"),
    ("u2", "control", "satisfaction", float("inf"), "metric_value is not a finite number in 1 rows"),
])
def test_broken_events_in_the_files_are_named_by_the_daily_analysis_and_no_table_is_kept(
        platform, recorded, user, variant, metric, value, message):
    broken_day = START + timedelta(days=2)
    platform.abtests.record([MetricEvent("x", TEST_ID, user, variant, metric, value,
                                         datetime(2026, 11, 3, 10, tzinfo=UTC))])
    plan = analysis.sql_plan(CONFIG)
    engine.daily_moments(platform.store, TEST_ID, plan, START + timedelta(days=1), START)
    with pytest.raises(stats.DataValidationError, match=message):
        engine.daily_moments(platform.store, TEST_ID, plan, broken_day, START)
    assert not platform.store.exists(layout.abtest_running_users_key(TEST_ID, broken_day))
    with pytest.raises(stats.DataValidationError, match=message):  # the next day finds the same events again
        engine.daily_moments(platform.store, TEST_ID, plan, broken_day + timedelta(days=1), START)


def test_the_one_sql_source_is_valid_trino_for_athena():
    plan = analysis.sql_plan(CONFIG)
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
    from findining_mlops.platform.ports import ABTest
    from findining_mlops.serving.client.service import MLService

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
    _assert_close(analysis.analyze_parquet(halves, CONFIG), analysis.analyze(frame, CONFIG))
