"""The A/B analysis of recorded events, usable outside Airflow (``findining-mlops ab-analyze``): the SQL of
``queries`` run by DuckDB (``engine``) reduces the events to per-arm moments, and ``stats`` turns those into the
SRM check, the per-metric results and the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from findining_mlops.abtest import engine, queries, stats
from findining_mlops.errors import DataValidationError

COLUMNS = ("user_id", "variant", "metric_name", "metric_value", "timestamp")


def analyze(events: pd.DataFrame, config: dict) -> stats.Analysis:
    """The analysis of an in-memory event table (``COLUMNS``): SRM check, per-metric results and the decision,
    as plain JSON types."""
    plan = sql_plan(config)
    with engine.DuckDB.for_small_tables() as duckdb:  # one thread: the same frame, the same bits
        duckdb.connection.register("events", _events_table(events))
        moments = engine.arm_moments(duckdb.rows, plan, "events")
    return stats.analyze_moments(moments, config)


def analyze_parquet(paths: Sequence[str | Path], config: dict) -> stats.Analysis:
    """The analysis of the events in parquet files (``COLUMNS``), read by DuckDB with every thread: the figures
    agree with ``analyze`` of the same rows to rounding, the last bit may depend on the threads' timing."""
    plan = sql_plan(config)
    with engine.DuckDB() as duckdb:
        moments = engine.arm_moments(duckdb.rows, plan, engine.parquet_relation([Path(p) for p in paths]))
    return stats.analyze_moments(moments, config)


def sql_plan(config: dict) -> queries.Plan:
    """What the SQL computes for this config (``queries.Plan``), once the config is valid."""
    config = stats.validated_config(config)
    return queries.Plan.of({**config["success_metrics"], **config["guardrail_metrics"]})


def _events_table(events: pd.DataFrame):
    """The events as an arrow table of strings and doubles; a metric_value that is not a number becomes NaN,
    which the SQL reports only where it belongs to a configured metric."""
    missing = [c for c in COLUMNS if c not in events.columns]
    if missing:
        raise DataValidationError(f"events lack the columns {missing}")
    values = pd.to_numeric(events["metric_value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return pa.table({
        **{c: pa.array(events[c].astype(object).where(events[c].notna(), None).to_numpy(), type=pa.string(),
                       from_pandas=True) for c in ("user_id", "variant", "metric_name")},
        "metric_value": pa.array(values, type=pa.float64(), from_pandas=False),  # NaN stays NaN, not NULL
    })
