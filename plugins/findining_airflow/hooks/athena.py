"""Amazon Athena for the A/B analysis (``FINDINING_AB_ENGINE=athena``), through the Amazon provider's
``AthenaHook``.

On Athena the SQL is the DuckDB analysis' own (``findining_mlops.abtest.queries``), transpiled to Trino; it reads the
events' Glue table, partitioned by ``test_id`` and ``dt`` over ``s3://<bucket>/abtests/<test-id>/events/dt=<day>/``,
in the configured workgroup, whose settings (result location, encryption, bytes-scanned limit) Terraform owns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

from findining_mlops.config.settings import AwsSettings
from findining_mlops.errors import ABTestError

if TYPE_CHECKING:
    from findining_mlops.abtest.queries import Moments

POLL_SECONDS = 5
SUCCEEDED = "SUCCEEDED"
# Athena's result types -> Python; anything else stays text
CONVERTERS: dict[str, Callable[[str], object]] = {
    "bigint": int, "integer": int, "smallint": int, "tinyint": int,
    "double": float, "float": float, "real": float, "decimal": float,
    "boolean": lambda text: text.lower() == "true",
}


class AthenaQueries:
    """Runs a statement on Athena and returns its rows as dicts of Python values."""

    def __init__(self, settings: AwsSettings):
        self.settings = settings

    @cached_property
    def hook(self):
        from airflow.providers.amazon.aws.hooks.athena import AthenaHook

        return AthenaHook(aws_conn_id=self.settings.conn_id, region_name=self.settings.region)

    def rows(self, sql: str) -> list[dict]:
        query_id = self.hook.run_query(sql, query_context={"Database": self.settings.athena_database},
                                       result_configuration={}, workgroup=self.settings.athena_workgroup)
        state = self.hook.poll_query_status(query_id, sleep_time=POLL_SECONDS)
        if state != SUCCEEDED:
            raise ABTestError(f"Athena query {query_id} in workgroup {self.settings.athena_workgroup} ended "
                                  f"{state}: {self.hook.get_state_change_reason(query_id)}")
        return rows_of(self.hook.get_query_results_paginator(query_id))

    def moments(self, test, plan, day: date) -> Moments:
        """``lifecycle.MomentsSource``: the test's per-arm moments up to ``day``, computed by Athena."""
        from findining_mlops.abtest import engine

        return engine.athena_moments(self.rows, self.settings.athena_database, self.settings.athena_events_table,
                                       test.test_id, plan, day)


def rows_of(pages) -> list[dict]:
    """The rows of ``GetQueryResults`` pages, typed by the result metadata; the first row is the header."""
    rows, columns = [], None
    for page in pages:
        result = page["ResultSet"]
        if columns is None:
            columns = [(c["Name"], CONVERTERS.get(c["Type"].lower(), str))
                       for c in result["ResultSetMetadata"]["ColumnInfo"]]
            data = result["Rows"][1:]
        else:
            data = result["Rows"]
        for row in data:
            cells = [cell.get("VarCharValue") for cell in row["Data"]]
            rows.append({name: None if text is None else convert(text)
                         for (name, convert), text in zip(columns, cells, strict=False)})
    return rows
