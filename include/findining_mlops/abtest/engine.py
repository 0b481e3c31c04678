"""Runs the A/B SQL (``findining_mlops.abtest.queries``) and turns its per-arm rows into the moments the statistics
need.

Engines:

* **DuckDB** (default), in process, reading the parquet part files straight from the local store, or from S3
  after downloading the few files a day's run needs. The daily run is incremental: day D's events are
  folded into day D−1's running per-user table, kept under
  ``abtests/<test-id>/users/dt=YYYY-MM-DD/running.arrow``, so day 14 reads what day 1 reads plus
  one table of users. A re-run of a day rewrites its table with the same bytes and gives the same figures.
* **Athena** (``FINDINING_AB_ENGINE=athena``): the same statement, transpiled to Trino, over the Glue table of
  the events on S3, run by a caller-supplied function (the Airflow layer uses the Amazon provider's
  ``AthenaHook``, so this module imports no Airflow).
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import cast
from urllib.parse import unquote, urlparse

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from findining_mlops.abtest import queries
from findining_mlops.errors import DataValidationError
from findining_mlops.platform.ports import ArtifactStore
from findining_mlops.store.abtest_events import part_keys
from findining_mlops.store.layout import abtest_running_users_key

EVENT_COLUMNS = "user_id, variant, metric_name, metric_value"
NO_EVENTS = ("(SELECT NULL::VARCHAR AS user_id, NULL::VARCHAR AS variant, NULL::VARCHAR AS metric_name, "
             "NULL::DOUBLE AS metric_value WHERE false)")
Rows = list[dict]
# DuckDB spills to disk beyond this, so a test of any size is analyzed in bounded memory next to other tasks
MEMORY_LIMIT = "3GB"


_SMALL_TABLES: tuple[int, duckdb.DuckDBPyConnection] | None = None
_SMALL_TABLES_LOCK = threading.Lock()


class DuckDB:
    """One in-memory DuckDB connection, whose queries return rows as dicts.

    ``deterministic``: one thread, so sums add in file order and the same input gives the same bits. With several
    threads, the order in which their partial sums meet varies, and so does the last bit of a sum."""

    def __init__(self, deterministic: bool = False, connection: duckdb.DuckDBPyConnection | None = None):
        spill = Path(tempfile.gettempdir(), "findining-duckdb")
        self.connection = connection or duckdb.connect(config={
            "memory_limit": MEMORY_LIMIT, "temp_directory": str(spill), **({"threads": 1} if deterministic else {})})

    @classmethod
    def for_small_tables(cls) -> DuckDB:
        """A connection of its own (tables registered on it are its own) to this process's one-thread in-memory
        database, which is opened once: opening a database costs about 20 ms, which a loop of small analyses
        (an A/A simulation, a test's cases) would pay every time."""
        global _SMALL_TABLES
        with _SMALL_TABLES_LOCK:
            if _SMALL_TABLES is None or _SMALL_TABLES[0] != os.getpid():  # a forked child opens its own
                _SMALL_TABLES = (os.getpid(), cls(deterministic=True).connection)
            return cls(connection=_SMALL_TABLES[1].cursor())

    def __enter__(self) -> DuckDB:
        return self

    def __exit__(self, *exc_info) -> None:
        self.connection.close()  # its memory and threads now, not whenever the collector gets to them

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


def arm_moments(run: Callable[[str], Rows], plan: queries.Plan, events: str) -> queries.Moments:
    """Per arm, the users in the test and each metric's moments, from ``events``, or a DataValidationError that
    names what in the events breaks the contract."""
    rows = run(queries.analysis_sql(plan, events))
    problem = _problem(plan, rows)
    if problem:
        users = f"({queries.user_sql(plan, events)})"
        raise DataValidationError(_describe(run, plan, problem, events, lambda: next(iter(
            run(queries.both_arms_example_sql(users))[0].values()))))
    return _moments(plan, rows)


def _moments(plan: queries.Plan, rows: Rows) -> queries.Moments:
    """Per arm, the users in the test and each metric's moments, from per-arm rows that passed the checks."""
    moments: queries.Moments = {}
    for variant in queries.VARIANTS:
        group = [r for r in rows if r["arms"] == queries.ARM_BITS[variant] and not r["no_user"]]
        row = group[0] if group else {}
        moments[variant] = {"events": int(row.get("events") or 0), "in_test": int(row.get("in_test") or 0),
                            "metrics": {name: _metric_moments(plan, row, name) for name in plan.metrics}}
    return moments


def _metric_moments(plan: queries.Plan, row: dict, name: str) -> queries.MetricMoments:
    k = plan.column(name)
    moments: queries.MetricMoments = {"users": int(row.get(f"users{k}") or 0), "sum": float(row.get(f"sum{k}") or 0.0),
               "squares": float(row.get(f"squares{k}") or 0.0)}
    if name in plan.covariates:
        moments["cuped"] = cast(queries.CupedMoments, {field: float(row.get(f"cov_{field}{k}") or 0.0)
                                                       for field in ("users", "sum", "squares", "products",
                                                                     "metric_sum")})
    return moments


def _problem(plan: queries.Plan, rows: Rows) -> tuple | None:
    """The first way the per-arm groups break the contract, from the aggregates alone."""
    for check in (_arm_problem, _sums_problem):
        if problem := check(rows):
            return problem
    for name in plan.metrics:
        bad = sum(int(r.get(f"bad{plan.column(name)}") or 0) for r in rows)
        if bad:
            return ("binary", name, bad)
    return None


def _arm_problem(rows: Rows) -> tuple | None:
    """An unknown variant, events without a user, or users in both arms."""
    if any(int(r["arms"]) & queries.OTHER_VARIANT for r in rows):
        return ("variants",)
    without_user = sum(int(r["events"]) for r in rows if r["no_user"])
    if without_user:
        return ("no_user", without_user)
    in_both = sum(int(r["users"]) for r in rows if int(r["arms"]) == CONTROL | TREATMENT)
    return ("both", in_both) if in_both else None


def _sums_problem(rows: Rows) -> tuple | None:
    """A sum that overflowed or met a value that is not a finite number."""
    sums = [v for r in rows for key, v in r.items() if key.startswith(("sum", "squares", "cov_")) and v is not None]
    return None if all(math.isfinite(v) for v in sums) else ("non_finite",)


def _describe(run, plan: queries.Plan, problem: tuple, events: str, example_in_both: Callable[[], str]) -> str:
    """The message for a problem, naming the offending values found by a query of the rows."""
    kind, *details = problem
    if kind == "variants":
        unknown = sorted(str(r["variant"]) for r in run(queries.unknown_variants_sql(events)))
        return f"events have variant values other than 'control' and 'treatment': {unknown}"
    if kind == "no_user":
        return f"{details[0]} events have no user_id"
    if kind == "both":
        return f"{details[0]} users appear in both variants, e.g. {example_in_both()!r}"
    if kind == "non_finite":
        counts = run(queries.non_finite_sql(plan, events))
        return "metric_value is not a finite number in " + (", ".join(
            f"{r['rows']} rows of metric {r['metric_name']!r}" for r in counts) or "the sums (values too large)")
    name, bad = details
    examples = [r["metric_value"] for r in run(queries.bad_binary_sql(name, events))]
    return f"binary metric {name!r} has values other than 0 and 1 in {bad} rows, e.g. {examples}"


def daily_moments(store: ArtifactStore, test_id: str, plan: queries.Plan, day: date,
                  first_day: date) -> queries.Moments:
    """The moments of every event up to the end of ``day``: day D's events folded into day D−1's running per-user
    table (``RunningUsers``), or every event up to ``day`` folded into an empty one on ``first_day`` and when the
    day before has no table (a backfill that starts later).

    Day D's cost is its own events plus one read and one write of the running table, whatever D is. The table is
    kept on the store (``layout.abtest_running_users_key``); a re-run of a day writes the same bytes and gives the
    same moments, and a table rebuilt from every event equals the day-by-day one bit for bit, because each user's
    sums add the events in the order of their files and rows whichever way the days are grouped."""
    with tempfile.TemporaryDirectory(prefix="abtest-") as tmp, DuckDB() as engine:
        files = _LocalFiles(store, Path(tmp))
        previous = abtest_running_users_key(test_id, day - timedelta(days=1))
        if day > first_day and store.exists(previous):
            running, keys = RunningUsers.read(files.path(previous)), part_keys(store, test_id, day, day)
        else:
            running, keys = RunningUsers.empty(plan), part_keys(store, test_id, day)
        running = running.fold(engine, plan, files.paths(keys))
        path = Path(tmp, "running.arrow")
        with ThreadPoolExecutor(1) as writer:
            written = writer.submit(running.write, path)  # meanwhile the checks and the sums, on this thread
            moments = running.moments(engine.rows, plan, lambda: parquet_relation(
                files.paths(part_keys(store, test_id, day))))
            written.result()
        store.upload_file(path, abtest_running_users_key(test_id, day))  # only a table that passed the checks is kept
        return moments


class RunningUsers:
    """Every user seen so far, one row each in order of first appearance: the user id, the number of events, the
    arms seen (``CONTROL``/``TREATMENT`` bits) and per metric k the count ``n{k}`` and the sum (continuous) or
    maximum (binary) ``v{k}`` of its values.

    These are ``queries.user_sql``'s columns in a form that a day's events update in place: DuckDB matches each
    event to its user's row (a hash join on the user id, on every thread, the only work on strings), and numpy
    adds the events up in their file order (``np.add.at``), so the table depends on the events alone."""

    def __init__(self, table: pa.Table, events_without_user: int = 0,
                 bad_binary_values: dict[str, int] | None = None):
        self.table = table.combine_chunks()
        # what the last fold found that the contract refuses and no user's row holds (another variant value is an
        # arms bit): a table with any of it is never kept, so the next day's analysis, without a table of the
        # day before, finds the same events again
        self.events_without_user = events_without_user
        self.bad_binary_values = bad_binary_values or {}

    @classmethod
    def empty(cls, plan: queries.Plan) -> RunningUsers:
        return cls(pa.table({name: pa.array([], type=kind) for name, kind in _columns(plan)}))

    @classmethod
    def read(cls, path: Path) -> RunningUsers:
        with pa.memory_map(str(path)) as source:
            return cls(pa.ipc.open_file(source).read_all())

    def write(self, path: Path) -> None:
        """Arrow IPC, uncompressed, one record batch: no nulls, so equal tables are equal bytes."""
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, self.table.schema) as writer:
            writer.write_table(self.table, max_chunksize=max(self.table.num_rows, 1))

    def fold(self, engine: DuckDB, plan: queries.Plan, paths: list[Path]) -> RunningUsers:
        """This table with the events of the part files ``paths`` (in that order) added; a new user gets the next
        row, in order of their first event."""
        if not paths:
            return self
        users = self.table.num_rows
        new, (row, arm, metric, value) = self._matched(engine, plan, paths)
        columns = {name: np.concatenate([self.table[name].to_numpy(), np.zeros(new.num_rows, kind.to_pandas_dtype())])
                   for name, kind in _columns(plan)[1:]}
        known = row >= 0  # an event without a user_id has no row; the checks refuse it
        if not known.all():
            row, arm, metric, value = row[known], arm[known], metric[known], value[known]
        total = users + new.num_rows
        # counts and arms are exact in any order: one bincount of (user, metric) pairs, one scatter of (user, arm)
        per_metric = np.bincount(row * (len(plan.metrics) + 1) + (metric + 1),
                                 minlength=total * (len(plan.metrics) + 1)).reshape(total, -1)
        columns["events"] += per_metric.sum(axis=1, dtype=np.int32)
        seen = np.zeros((total, queries.OTHER_VARIANT + 1), dtype=bool)
        seen[row, arm] = True
        for bit in (CONTROL, TREATMENT, queries.OTHER_VARIANT):
            columns["arms"] |= seen[:, bit] * np.uint8(bit)
        bad = {}
        for k, name in enumerate(plan.metrics):
            columns[f"n{k}"] += per_metric[:, k + 1].astype(np.int32)
            of_metric = metric == k
            rows, values = row[of_metric], value[of_metric]
            if plan.kinds[name] == "binary":
                np.maximum.at(columns[f"v{k}"], rows, values)
                bad[name] = int(np.count_nonzero(~((values == 0) | (values == 1))))
            else:  # a user's sum adds their events in file order, however the days are grouped
                np.add.at(columns[f"v{k}"], rows, values)
        user_ids = pa.concat_arrays([self.table["user_id"].combine_chunks(), new["user_id"].combine_chunks()])
        return RunningUsers(pa.table({"user_id": user_ids, **columns}), int(np.count_nonzero(~known)), bad)

    def _matched(self, engine: DuckDB, plan: queries.Plan, paths: list[Path]) -> tuple[pa.Table, list[np.ndarray]]:
        """The new users (``user_id``, in order of first appearance) and the events' user row (-1 without a
        user_id), arm bit, metric column and value, in the order of the files and their rows."""
        users = self.table.num_rows
        connection = engine.connection
        connection.register("known", pa.table({"user_id": self.table["user_id"],
                                               "row": pa.array(np.arange(users, dtype=np.int64))}))
        matched = connection.sql(queries.matched_events_sql(plan, parquet_table(*paths), "known")).to_arrow_table()
        matched = matched.combine_chunks()  # numpy views of its columns from here on
        row = matched["row"].to_numpy().copy()
        unmatched = np.flatnonzero(row < 0)
        unmatched_events = matched.take(unmatched)
        connection.register("unmatched", unmatched_events)
        new = connection.sql(queries.new_users_sql("unmatched")).to_arrow_table()
        new_row = pc.index_in(unmatched_events["user_id"], value_set=new["user_id"].combine_chunks())
        row[unmatched] = np.where(new_row.is_valid().to_numpy(zero_copy_only=False),
                                  users + new_row.fill_null(0).to_numpy(), -1)  # -1: the event has no user_id

        # back to the files' order, in which each user's values add up: DuckDB's threads return any order
        place = matched["place"].to_numpy()
        file_index = place >> 32
        first_of_file = np.concatenate(([0], np.cumsum(np.bincount(file_index, minlength=len(paths)))))
        at = first_of_file[file_index] + (place & 0xFFFF_FFFF)
        return new, [_scattered(column, at) for column in (
            row, matched["arm"].to_numpy(), matched["metric"].to_numpy(), matched["value"].to_numpy())]

    def moments(self, run: Callable[[str], Rows], plan: queries.Plan,
                events: Callable[[], str]) -> queries.Moments:
        """``arm_moments``' result from this table: per arm, ``queries.arm_sql``'s sums over its users (numpy's
        pairwise sums, in row order), with the same checks of the contract."""
        rows = self._arm_rows(plan)
        if self.events_without_user:
            rows.append({"arms": 0, "no_user": True, "users": 1, "events": self.events_without_user})
        problem = _problem(plan, rows) or next(
            (("binary", name, n) for name, n in self.bad_binary_values.items() if n), None)
        if problem:
            both = self.table["user_id"].filter(pa.array(self.table["arms"].to_numpy() == CONTROL | TREATMENT))
            raise DataValidationError(_describe(run, plan, problem, events(), lambda: pc.min(both).as_py()))
        return _moments(plan, rows)

    def _arm_rows(self, plan: queries.Plan) -> Rows:
        column = {name: self.table[name].to_numpy() for name in self.table.column_names[1:]}
        arms = column["arms"]
        has, y = {}, {}
        for k, name in enumerate(plan.metrics):
            n, v = column[f"n{k}"], column[f"v{k}"]
            has[k] = n > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                y[k] = v if plan.kinds[name] == "binary" else v / n  # only read where has[k]
        in_test = np.logical_or.reduce([has[plan.column(name)] for name in plan.tested])
        rows = []
        for bits in np.flatnonzero(np.bincount(arms)):
            of_arm = arms == bits
            row = {"arms": int(bits), "no_user": False,
                   "users": int(np.count_nonzero(of_arm)), "events": int(column["events"][of_arm].sum()),
                   "in_test": int(np.count_nonzero(in_test & of_arm))}
            for k in range(len(plan.metrics)):
                values = y[k][has[k] & of_arm]
                row |= {f"users{k}": len(values), f"sum{k}": float(values.sum()),
                        f"squares{k}": float(np.square(values).sum())}
            for name, covariate in plan.covariates.items():
                k, c = plan.column(name), plan.column(covariate)
                both = has[k] & has[c] & of_arm
                metric, covariate_values = y[k][both], y[c][both]
                row |= {f"cov_users{k}": len(metric), f"cov_sum{k}": float(covariate_values.sum()),
                        f"cov_squares{k}": float(np.square(covariate_values).sum()),
                        f"cov_products{k}": float((covariate_values * metric).sum()),
                        f"cov_metric_sum{k}": float(metric.sum())}
            rows.append(row)
        return rows


def _scattered(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The values placed at ``at``."""
    placed = np.empty_like(values)
    placed[at] = values
    return placed


CONTROL, TREATMENT = queries.ARM_BITS["control"], queries.ARM_BITS["treatment"]


def _columns(plan: queries.Plan) -> list[tuple[str, pa.DataType]]:
    columns = [("user_id", pa.string()), ("events", pa.int32()), ("arms", pa.uint8())]
    for k in range(len(plan.metrics)):
        columns += [(f"n{k}", pa.int32()), (f"v{k}", pa.float64())]
    return columns


def athena_moments(run: Callable[[str], Rows], database: str, table: str, test_id: str, plan: queries.Plan,
                   day: date) -> queries.Moments:
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
