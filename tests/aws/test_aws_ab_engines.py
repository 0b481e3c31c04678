"""The A/B analysis on AWS: DuckDB reads the events' parquet batches from S3, and with
``FINDINING_AB_ENGINE=athena`` the same SQL, in Trino's dialect, goes through the provider's AthenaHook
(moto answers with the rows that the query gives on DuckDB)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
import requests
from aws_stack import ACCOUNT, REGION

from findining_mlops.abtest import analysis, engine, queries, stats
from findining_mlops.platform.ports import MetricEvent
from findining_mlops.store import layout

TEST_ID = "ab-1"
START = date(2026, 10, 1)
CONFIG = {"control_share": 0.5, "alpha": 0.05, "success_metrics": {"engaged": {"kind": "binary"}},
          "guardrail_metrics": {"latency_ms": {"kind": "continuous", "direction": "lower_is_better"}}}
ATHENA_TYPES = {bool: "boolean", int: "bigint", float: "double", str: "varchar"}


def _events(day: date) -> list[MetricEvent]:
    when = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    events = []
    for u in range(40):
        variant = "treatment" if u % 2 else "control"
        events += [MetricEvent(f"{day}-{u}-e", TEST_ID, f"u{u}", variant, "engaged", float(u % 3 == 0), when),
                   MetricEvent(f"{day}-{u}-l", TEST_ID, f"u{u}", variant, "latency_ms", 100.0 + u * 1.5 + day.day,
                               when + timedelta(minutes=u))]
    return events


@pytest.fixture
def recorded(aws):
    for offset in range(2):
        assert aws.abtests.record(_events(START + timedelta(days=offset))) == 80


def test_duckdb_reads_the_days_batches_from_s3_and_keeps_the_running_aggregate_there(aws, recorded, tmp_path):
    plan = analysis.sql_plan(CONFIG)
    day_two = START + timedelta(days=1)
    engine.daily_moments(aws.store, TEST_ID, plan, START, START)
    merged = engine.daily_moments(aws.store, TEST_ID, plan, day_two, START)
    assert aws.store.exists(layout.abtest_running_users_key(TEST_ID, day_two))
    every = [e for day in (START, day_two) for e in _events(day)]
    expected = analysis.analyze(_frame(every), CONFIG)
    result = stats.analyze_moments(merged, CONFIG)
    assert result["metrics"]["latency_ms"]["control"] == expected["metrics"]["latency_ms"]["control"]
    assert result["metrics"]["latency_ms"]["p_value"] == pytest.approx(expected["metrics"]["latency_ms"]["p_value"],
                                                                       rel=1e-9)


def test_the_athena_engine_runs_the_trino_sql_on_the_glue_table_in_the_workgroup(aws, account, recorded, tmp_path):
    from findining_airflow.hooks.athena import AthenaQueries

    settings = replace(account, ab_engine="athena")
    boto3.client("athena", region_name=REGION).create_work_group(Name=settings.athena_workgroup)
    plan = analysis.sql_plan(CONFIG)
    day_two = START + timedelta(days=1)
    paths = [aws.store.download_file(k, tmp_path / k) for k in
             aws.store.list_keys(f"abtests/{TEST_ID}/events/")]
    rows = engine.DuckDB().rows(queries.analysis_sql(plan, engine.parquet_relation(paths)))
    _queue_athena_result(rows)

    test = type("Test", (), {"test_id": TEST_ID})()
    moments = AthenaQueries(settings).moments(test, plan, day_two)

    assert moments == engine.arm_moments(lambda sql: rows, plan, "events")
    athena = boto3.client("athena", region_name=REGION)
    [query_id] = athena.list_query_executions(WorkGroup=settings.athena_workgroup)["QueryExecutionIds"]
    execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    sql = execution["Query"]
    assert f'"{settings.athena_database}"."{settings.athena_events_table}"' in sql
    assert "test_id = 'ab-1' AND dt <= '2026-10-02'" in sql
    assert "fsum" not in sql.lower() and "read_parquet" not in sql.lower()
    assert execution["QueryExecutionContext"]["Database"] == settings.athena_database


def _queue_athena_result(rows: list[dict]) -> None:
    """moto's documented way to set what ``GetQueryResults`` returns for the next query."""
    names = list(rows[0])
    types = {n: ATHENA_TYPES[type(next(r[n] for r in rows if r[n] is not None))] for n in names}
    header = {"Data": [{"VarCharValue": n} for n in names]}
    data = [{"Data": [{} if r[n] is None else {"VarCharValue": str(r[n]).lower() if types[n] == "boolean"
                                                else repr(r[n]) if types[n] == "double" else str(r[n])}
                      for n in names]} for r in rows]
    response = requests.post("http://motoapi.amazonaws.com/moto-api/static/athena/query-results", json={
        "account_id": ACCOUNT, "region": REGION,
        "results": [{"rows": [header, *data], "column_info": [{"Name": n, "Type": types[n]} for n in names]}]})
    assert response.status_code == 201


def _frame(events):
    import pandas as pd

    return pd.DataFrame({"user_id": [e.user_id for e in events], "variant": [e.variant for e in events],
                         "metric_name": [e.metric_name for e in events],
                         "metric_value": [e.metric_value for e in events],
                         "timestamp": [e.timestamp for e in events]})
