"""Runs the A/B SQL (``findining_mlops.abtest.queries``) and turns its per-arm rows into the moments the statistics
need.

Engines:

* **DuckDB** (default), in process, reading the parquet part files straight from the local store, or from S3
  after downloading the few files a day's run needs. The daily run is incremental: day D's per-user partial
  aggregate is computed from day D's files only and merged into day D−1's running aggregate, both kept under
  ``abtests/<test-id>/users/dt=YYYY-MM-DD/{partial,running}.parquet``, so day 14 reads what day 1 reads plus
  one table of users. A re-run of a day rewrites its two files with the same bytes and gives the same figures.
* **Athena** (``FINDINING_AB_ENGINE=athena``): the same statement, transpiled to Trino, over the Glue table of
  the events on S3, run by a caller-supplied function (the Airflow layer uses the Amazon provider's
  ``AthenaHook``, so this module imports no Airflow).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from findining_mlops.abtest import outcomes, queries
from findining_mlops.errors import DataValidationError
from findining_mlops.platform.ports import ArtifactStore

EVENT_COLUMNS = "user_id, variant, metric_name, metric_value"
NO_EVENTS = ("(SELECT NULL::VARCHAR AS user_id, NULL::VARCHAR AS variant, NULL::VARCHAR AS metric_name, "
             "NULL::DOUBLE AS metric_value WHERE false)")
Rows = list[dict]
# DuckDB spills to disk beyond this, so a test of any size is analyzed in bounded memory next to other tasks
MEMORY_LIMIT = "3GB"


class DuckDB:
    """One in-memory DuckDB connection, whose queries return rows as dicts.

    ``deterministic``: one thread, so sums add in file order and the same input gives the same bits. With several
    threads, the order in which their partial sums meet varies, and so does the last bit of a sum."""

    def __init__(self, deterministic: bool = False):
        spill = Path(tempfile.gettempdir(), "findining-duckdb")
        self.connection = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill),
                                                 **({"threads": 1} if deterministic else {})})

    def rows(self, sql: str) -> Rows:
        result = self.connection.sql(sql)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=False)) for row in result.fetchall()]


def parquet_relation(paths: list[Path]) -> str:
    """The events of these part files as a relation, an empty one when there are none."""
    if not paths:
        return NO_EVENTS
    return f"(SELECT {EVENT_COLUMNS} FROM {parquet_table(*paths)})"


def parquet_table(*paths: Path) -> str:
    """The files as one table; the ``dt=`` in their keys is layout, not a column to add."""
    files = ", ".join(queries.literal(str(p)) for p in paths)
    return f"read_parquet([{files}], hive_partitioning = false)"


def arm_moments(run: Callable[[str], Rows], plan: queries.Plan, events: str | Callable[[], str],
                users: str | None = None) -> dict:
    """Per arm, the users in the test and each metric's moments, from ``events`` (or the per-user table ``users``
    when given), or a DataValidationError that names what in the events breaks the contract.

    ``events`` may be a function that returns the relation: with ``users`` given, the events are only read again
    when a check fails and has to name the offending rows."""
    rows = run(queries.arm_sql(plan, users) if users else queries.analysis_sql(plan, events))
    problem = _problem(plan, rows)
    if problem:
        relation = events() if callable(events) else events
        raise DataValidationError(_describe(run, plan, problem, relation,
                                            users or f"({queries.user_sql(plan, relation)})"))
    moments = {}
    for variant in queries.VARIANTS:
        group = [r for r in rows if r["first_variant"] == r["last_variant"] == variant and not r["no_user"]]
        row = group[0] if group else {}
        moments[variant] = {"events": int(row.get("events") or 0), "in_test": int(row.get("in_test") or 0),
                            "metrics": {name: _metric_moments(plan, row, name) for name in plan.metrics}}
    return moments


def _metric_moments(plan: queries.Plan, row: dict, name: str) -> dict:
    k = plan.column(name)
    moments = {"users": int(row.get(f"users{k}") or 0), "sum": float(row.get(f"sum{k}") or 0.0),
               "squares": float(row.get(f"squares{k}") or 0.0)}
    if name in plan.covariates:
        moments["cuped"] = {field: float(row.get(f"cov_{field}{k}") or 0.0)
                            for field in ("users", "sum", "squares", "products", "metric_sum")}
    return moments


def _problem(plan: queries.Plan, rows: Rows) -> tuple | None:
    """The first way the per-arm groups break the contract, from the aggregates alone."""
    if any(r["first_variant"] not in queries.VARIANTS or r["last_variant"] not in queries.VARIANTS for r in rows):
        return ("variants",)
    without_user = sum(int(r["events"]) for r in rows if r["no_user"])
    if without_user:
        return ("no_user", without_user)
    in_both = sum(int(r["users"]) for r in rows if r["first_variant"] != r["last_variant"])
    if in_both:
        return ("both", in_both)
    sums = [v for r in rows for key, v in r.items() if key.startswith(("sum", "squares", "cov_")) and v is not None]
    if not all(math.isfinite(v) for v in sums):
        return ("non_finite",)
    for name in plan.metrics:
        bad = sum(int(r.get(f"bad{plan.column(name)}") or 0) for r in rows)
        if bad:
            return ("binary", name, bad)
    return None


def _describe(run, plan: queries.Plan, problem: tuple, events: str, users: str) -> str:
    """The message for a problem, naming the offending values found by a query of the rows."""
    kind, *details = problem
    if kind == "variants":
        unknown = sorted(str(r["variant"]) for r in run(queries.unknown_variants_sql(events)))
        return f"events have variant values other than 'control' and 'treatment': {unknown}"
    if kind == "no_user":
        return f"{details[0]} events have no user_id"
    if kind == "both":
        example = next(iter(run(queries.both_arms_example_sql(users))[0].values()))
        return f"{details[0]} users appear in both variants, e.g. {example!r}"
    if kind == "non_finite":
        counts = run(queries.non_finite_sql(plan, events))
        return "metric_value is not a finite number in " + (", ".join(
            f"{r['rows']} rows of metric {r['metric_name']!r}" for r in counts) or "the sums (values too large)")
    name, bad = details
    examples = [r["metric_value"] for r in run(queries.bad_binary_sql(name, events))]
    return f"binary metric {name!r} has values other than 0 and 1 in {bad} rows, e.g. {examples}"


def users_key(test_id: str, day: date, table: str) -> str:
    """Parquet, not Arrow IPC, though IPC reads and writes a million users several times faster: IPC keeps the
    bytes under null values, which DuckDB leaves undefined, so equal tables could give other bytes."""
    return f"abtests/{test_id}/users/dt={day.isoformat()}/{table}.parquet"


def daily_moments(store: ArtifactStore, test_id: str, plan: queries.Plan, day: date, first_day: date) -> dict:
    """The moments of every event up to the end of ``day``, merging ``day``'s partial aggregate into the running
    one of the day before (computed from all days up to ``day`` when there is none, as on ``first_day``).

    Day D's cost is its own events plus one pass over the running table, not a re-aggregation of it: the merge
    (``merge_users``) looks each running user up in the day's table by hash, updates the returning users' rows in
    place (numpy) and appends the new users, where a GROUP BY over both tables aggregated every user again and
    then had to sort them for a stable order.

    A re-run of a day writes the same bytes, and the same moments: the tables that sum a user's events, and the
    per-arm sums, are computed by one thread, whose output order and sums depend on the input only; the merge
    adds exactly two values per user and keeps the running table's row order."""
    engine = DuckDB()
    with tempfile.TemporaryDirectory(prefix="abtest-") as tmp:
        files = _LocalFiles(store, Path(tmp))

        def one_thread(sql: str) -> pa.Table:
            engine.connection.execute("SET threads = 1")
            try:
                return engine.connection.sql(sql).to_arrow_table().combine_chunks()
            finally:
                engine.connection.execute("RESET threads")

        def kept(name: str, table: pa.Table) -> pa.Table:
            """``table``, written to the store as ``name``, from one contiguous table, so equal tables give equal
            bytes whatever chunks the query produced."""
            path = Path(tmp, f"{name}.parquet")
            # a working table read back whole by this module: no statistics (min/max of a million user ids
            # took half of the write), no compression, no dictionary of distinct user ids; about 60 bytes a user
            pq.write_table(table, path, compression="none", write_statistics=False,
                           use_dictionary=["first_variant", "last_variant"])
            store.upload_file(path, users_key(test_id, day, name))
            return table

        def events(first: date | None, last: date) -> str:
            return parquet_relation(files.paths(outcomes.part_keys(store, test_id, last, first)))

        partial = kept("partial", one_thread(queries.user_sql(plan, events(day, day))))
        previous = users_key(test_id, day - timedelta(days=1), "running")
        if day > first_day and store.exists(previous):
            running = merge_users(plan, pq.read_table(files.path(previous)), partial)
        elif outcomes.part_keys(store, test_id, day - timedelta(days=1)):
            # no running table of the day before (a backfill, or events before the first day)
            running = one_thread(queries.user_sql(plan, events(None, day)))
        else:
            running = partial
        kept("running", running)
        engine.connection.register("running", running)
        engine.connection.execute("SET threads = 1")  # fsum over the users in one order: the same bits
        return arm_moments(engine.rows, plan, lambda: events(None, day), "running")


def merge_users(plan: queries.Plan, running: pa.Table, partial: pa.Table) -> pa.Table:
    """Two per-user tables (``queries.user_sql``'s shape) combined into one of the same shape: counts and continuous
    sums add, binary values take the maximum, the variants their smallest and largest; a metric's value is
    missing exactly when its count is 0. The running table's rows keep their order, the partial's new users
    follow in theirs, so the same inputs give the same table.

    Numbers are merged in numpy, in place at the returning users' rows; the variant columns (strings) are only
    rebuilt when a returning user's variant changed, which the contract refuses anyway."""
    running, partial = running.combine_chunks(), partial.combine_chunks()
    at = pc.index_in(running["user_id"].combine_chunks(),  # each running user's row in partial (an Array)
                     value_set=partial["user_id"].combine_chunks())
    returning = at.is_valid()  # the running rows of the day's users
    rows = at.drop_null().to_numpy()  # their rows in partial, in running's order
    where = np.flatnonzero(returning.to_numpy(zero_copy_only=False))
    kinds = {f"v{k}": plan.kinds[name] for k, name in enumerate(plan.metrics)}
    columns = {"user_id": running["user_id"]}
    for name in running.column_names[1:]:
        if name in ("first_variant", "last_variant"):
            old, new = running[name].filter(returning), partial[name].take(rows)
            earlier = pc.less(new, old) if name == "first_variant" else pc.greater(new, old)
            columns[name] = (running[name] if not pc.any(earlier).as_py() else pc.replace_with_mask(
                running[name].combine_chunks(), returning, pc.if_else(earlier, new, old).combine_chunks()))
        elif name in kinds:  # filled in below, once the counts are known
            continue
        else:
            merged = running[name].to_numpy().copy()
            merged[where] += partial[name].to_numpy()[rows]
            columns[name] = pa.array(merged)
    for k, name in enumerate(plan.metrics):
        binary = plan.kinds[name] == "binary"
        fill = -np.inf if binary else 0.0  # what a missing value adds: nothing
        merged = running[f"v{k}"].fill_null(fill).to_numpy().copy()
        new = partial[f"v{k}"].fill_null(fill).to_numpy()[rows]
        merged[where] = np.maximum(merged[where], new) if binary else merged[where] + new
        columns[f"v{k}"] = pa.array(merged, mask=columns[f"n{k}"].to_numpy() == 0)
    seen = np.zeros(partial.num_rows, dtype=bool)
    seen[rows] = True
    updated = pa.table({name: columns[name] for name in running.column_names}, schema=running.schema)
    return pa.concat_tables([updated, partial.filter(pa.array(~seen))]).combine_chunks()


def athena_moments(run: Callable[[str], Rows], database: str, table: str, test_id: str, plan: queries.Plan,
                   day: date) -> dict:
    """The moments of every event up to the end of ``day`` by one Athena query over the events' Glue table
    (partitioned by ``test_id`` and ``dt``); ``run`` executes Trino SQL and returns rows as dicts."""
    events = (f'(SELECT {EVENT_COLUMNS} FROM "{database}"."{table}" '
              f"WHERE test_id = {queries.literal(test_id)} AND dt <= {queries.literal(day.isoformat())})")

    def on_athena(sql: str) -> Rows:
        return run(queries.to_athena(sql))

    return arm_moments(on_athena, plan, events)


class _LocalFiles:
    """Local paths of store keys: the file itself on a local store, a download into ``folder`` otherwise."""

    def __init__(self, store: ArtifactStore, folder: Path):
        self.store = store
        self.folder = folder

    def path(self, key: str) -> Path:
        uri = urlparse(self.store.uri(key))
        if uri.scheme == "file":
            return Path(unquote(uri.path))
        return self.store.download_file(key, self.folder / "store" / key)

    def paths(self, keys: list[str]) -> list[Path]:
        return [self.path(k) for k in keys]
