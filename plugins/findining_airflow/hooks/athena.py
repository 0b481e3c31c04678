"""The A/B analysis of a day on the configured engine: DuckDB over the store by default, or Amazon Athena
(``FINDINING_AB_ENGINE=athena``) through the Amazon provider's ``AthenaHook``.

On Athena the SQL is the DuckDB analysis' own (``findining_mlops.abtest.queries``), transpiled to Trino; it reads the
events' Glue table, partitioned by ``test_id`` and ``dt`` over ``s3://<bucket>/abtests/<test-id>/events/dt=<day>/``,
in the configured workgroup, whose settings (result location, encryption, bytes-scanned limit) Terraform owns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

from findining_airflow.errors import fail_fast
from findining_airflow.notifications import ab_test_finished
from findining_airflow.runtime import platform, settings
from findining_mlops.config.settings import AwsSettings
from findining_mlops.errors import ABTestError

if TYPE_CHECKING:
    from findining_mlops.abtest.lifecycle import MomentsSource

log = logging.getLogger(__name__)

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

    def moments(self, test, plan, day: date) -> dict:
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


def moments_source(aws: AwsSettings | None) -> MomentsSource | None:
    """The engine's ``lifecycle.MomentsSource``: Athena's when the ``aws`` backend asks for it, else ``None``,
    the domain's default (DuckDB)."""
    return AthenaQueries(aws).moments if aws is not None and aws.ab_engine == "athena" else None


def analyze_and_finish(test_id: str, day: date) -> dict:
    """The analysis of one test up to ``day``; a test decided by it is announced, then finished (its endpoint
    freed). Returns the ``model_deployment`` request that carries the test's outcome (its conf ``None`` while the
    test runs on), keyed on the test so that a re-run never deploys twice."""
    from findining_mlops.abtest import lifecycle
    from findining_mlops.platform.ports import RUNNING

    with fail_fast():
        test = platform().abtests.get(test_id)
        summary = lifecycle.analyze_day(platform(), test, day, moments_source(settings().aws))
    log.info("%s", json.dumps(summary, indent=2))
    if summary["outcome"] != RUNNING and test.status == RUNNING:
        # alert first: a retry may send the message twice but never loses it
        ab_test_finished(test, summary)
        lifecycle.finish(platform(), test, summary)
    return {"trigger_run_id": f"abtest__{test.test_id}", "conf": lifecycle.deployment_conf(test, summary)}
