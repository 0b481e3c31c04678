"""The A/B analysis' SQL: one source, run by DuckDB on one machine and by Athena over S3.

Two levels, as a data engineer would write them:

1. **per user** (``user_sql``): one row per user with, per metric, the number of events and their sum
   (continuous) or maximum (binary), plus the arms the user was seen in as bits (``ARM_BITS``), so a user in
   both arms or with another variant value shows in one integer;
2. **per arm** (``arm_sql``): the sufficient statistics of the user values, n, sum and sum of squares per metric,
   and for a CUPED covariate X the moments of X and X·Y, grouped by (arms, missing user) so the checks of the
   contract come out of the same pass: a group that is not a single known arm is broken input, and the ``*_sql``
   queries below then find the rows to name.

The statistics (``findining_mlops.abtest.stats``) need nothing more than those few numbers. Metric names are bound as
escaped literals and the columns are numbered (``n0``, ``v0``…), so a metric name never becomes SQL. Sums of
values use ``fsum`` (compensated summation), so millions of users' squares keep their precision. The text is
DuckDB's dialect; ``to_athena`` transpiles it with sqlglot to Trino, Athena's engine.

The daily incremental run (``engine.RunningUsers``) keeps the per-user level as a table that each day's events
update; its SQL is the part that needs an engine: reading the day's part files and matching each event to its
user's row by a join on the user id (``matched_events_sql``), and numbering the new users (``new_users_sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict

import sqlglot
from sqlglot import exp

VARIANTS = ("control", "treatment")
ARM_BITS = {"control": 1, "treatment": 2}  # the arms a user was seen in, as bits: 3 is both arms
OTHER_VARIANT = 4  # the bit of any other variant value, which the contract refuses


class CupedMoments(TypedDict):
    """A CUPED metric's moments of its covariate X over the users who have X: n, sums of X, X², X·Y and Y."""

    users: float
    sum: float
    squares: float
    products: float
    metric_sum: float


class MetricMoments(TypedDict):
    """One metric's user values in one arm: n, sum and sum of squares (``arm_sql``)."""

    users: int
    sum: float
    squares: float
    cuped: NotRequired[CupedMoments]


class ArmMoments(TypedDict):
    """One arm: its events, its users in the test and each metric's moments by metric name."""

    events: int
    in_test: int
    metrics: dict[str, MetricMoments]


Moments = dict[str, ArmMoments]  # per arm (``VARIANTS``): all the statistics need of the events


@dataclass(frozen=True)
class Plan:
    """What the SQL computes for one test: the metrics in column order, their kinds and CUPED covariates."""

    metrics: tuple[str, ...]  # success and guardrail metrics, then covariates that are not metrics themselves
    kinds: dict[str, str]  # name -> "binary" | "continuous" (covariates are continuous)
    tested: tuple[str, ...]  # the success and guardrail metrics: the sample-ratio population
    covariates: dict[str, str]  # metric -> its covariate

    @classmethod
    def of(cls, metrics: dict[str, dict]) -> Plan:
        """The plan of a validated config's success and guardrail metrics (``stats.validated_config``)."""
        covariates = {name: spec["covariate"] for name, spec in metrics.items() if "covariate" in spec}
        extra = tuple(dict.fromkeys(c for c in covariates.values() if c not in metrics))
        kinds = {**{name: spec["kind"] for name, spec in metrics.items()}, **{c: "continuous" for c in extra}}
        return cls(tuple(metrics) + extra, kinds, tuple(metrics), covariates)

    def column(self, name: str) -> int:
        return self.metrics.index(name)


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def arm_sql_expression() -> str:
    """A variant value's bit in ``ARM_BITS``, ``OTHER_VARIANT`` for any other value or NULL."""
    arms = " ".join(f"WHEN {literal(v)} THEN {bit}" for v, bit in ARM_BITS.items())
    return f"CASE variant {arms} ELSE {OTHER_VARIANT} END"


def user_sql(plan: Plan, events: str) -> str:
    """Per user: the ``arms`` seen (bits), the events, and per metric k ``n{k}`` events with sum/max ``v{k}``
    (binary metrics also ``bad{k}``, their values other than 0 and 1). A user's handful of values add up with a
    plain sum; the compensated ``fsum`` is for the millions of users per arm."""
    columns = ["user_id", f"bit_or({arm_sql_expression()}) AS arms", "count(*) AS events"]
    for k, name in enumerate(plan.metrics):
        of_metric = f"metric_name = {literal(name)}"
        binary = plan.kinds[name] == "binary"
        columns += [f"count(*) FILTER (WHERE {of_metric}) AS n{k}",
                    f"{'max' if binary else 'sum'}(metric_value) FILTER (WHERE {of_metric}) AS v{k}"]
        if binary:
            columns.append(f"count(*) FILTER (WHERE {of_metric} AND metric_value NOT IN (0, 1)) AS bad{k}")
    return f"SELECT {', '.join(columns)} FROM {events} GROUP BY user_id"


def arm_sql(plan: Plan, users: str) -> str:
    """Per (arms, no_user) group: users in the test and each metric's moments."""
    values = [f"CASE WHEN n{k} > 0 THEN {'v' + str(k) if plan.kinds[name] == 'binary' else f'v{k} / n{k}'} END "
              f"AS y{k}" for k, name in enumerate(plan.metrics)]
    in_test = " OR ".join(f"n{plan.column(name)} > 0" for name in plan.tested)
    columns = ["arms", "user_id IS NULL AS no_user", "count(*) AS users",
               "sum(events) AS events",
               f"count(*) FILTER (WHERE {in_test}) AS in_test"]
    for k, name in enumerate(plan.metrics):
        columns += [f"count(*) FILTER (WHERE n{k} > 0) AS users{k}", f"fsum(y{k}) AS sum{k}",
                    f"fsum(y{k} * y{k}) AS squares{k}"]
        if plan.kinds[name] == "binary":
            columns.append(f"sum(bad{k}) AS bad{k}")
    for name, covariate in plan.covariates.items():
        k, c = plan.column(name), plan.column(covariate)
        columns += [f"count(y{c}) FILTER (WHERE n{k} > 0) AS cov_users{k}",
                    f"fsum(y{c}) FILTER (WHERE n{k} > 0) AS cov_sum{k}",
                    f"fsum(y{c} * y{c}) FILTER (WHERE n{k} > 0) AS cov_squares{k}",
                    f"fsum(y{c} * y{k}) AS cov_products{k}",
                    f"fsum(y{k}) FILTER (WHERE y{c} IS NOT NULL) AS cov_metric_sum{k}"]
    return (f"SELECT {', '.join(columns)} FROM (SELECT *, {', '.join(values)} FROM {users}) AS u "
            "GROUP BY arms, user_id IS NULL")


def analysis_sql(plan: Plan, events: str) -> str:
    """From the events straight to the per-arm moments, in one statement."""
    return f"WITH users AS ({user_sql(plan, events)}) {arm_sql(plan, 'users')}"


def coded_events_sql(plan: Plan, table: str) -> str:
    """The events of part files with their ``place`` (the file's index in the high 32 bits, the row in the file in
    the low ones), the variant as its bit (``arm_sql_expression``), the metric as its column number (-1 for
    metrics outside the plan) and a missing value as NaN, which the checks then report."""
    metrics = " ".join(f"WHEN {literal(name)} THEN {k}" for k, name in enumerate(plan.metrics))
    return ("SELECT file_index::BIGINT << 32 | file_row_number AS place, user_id, "
            f"({arm_sql_expression()})::UTINYINT AS arm, CASE metric_name {metrics} ELSE -1 END::SMALLINT "
            f"AS metric, coalesce(metric_value, 'NaN'::DOUBLE) AS value FROM {table}")


def matched_events_sql(plan: Plan, table: str, known: str) -> str:
    """The coded events of ``table`` with their user's ``row`` in ``known`` (user_id, row), -1 where it has none
    there, and then the user_id: a new user's, or NULL."""
    return ("SELECT e.* EXCLUDE (user_id), coalesce(k.row, -1) AS row, "
            "CASE WHEN k.row IS NULL THEN e.user_id END AS user_id "
            f"FROM ({coded_events_sql(plan, table)}) AS e LEFT JOIN {known} AS k USING (user_id)")


def new_users_sql(unmatched: str) -> str:
    """The users of the ``unmatched`` events (``matched_events_sql`` without a row) in order of their first
    event."""
    return f"SELECT user_id FROM {unmatched} WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY min(place)"


def unknown_variants_sql(events: str) -> str:
    arms = ", ".join(literal(v) for v in VARIANTS)
    return f"SELECT DISTINCT variant FROM {events} WHERE variant IS NULL OR variant NOT IN ({arms}) ORDER BY 1"


def both_arms_example_sql(users: str) -> str:
    both = ARM_BITS["control"] | ARM_BITS["treatment"]
    return f"SELECT min(user_id) FROM {users} WHERE arms = {both}"


def non_finite_sql(plan: Plan, events: str) -> str:
    names = ", ".join(literal(n) for n in plan.metrics)
    return (f"SELECT metric_name, count(*) AS rows FROM {events} WHERE metric_name IN ({names}) "
            "AND (metric_value IS NULL OR NOT isfinite(metric_value)) GROUP BY metric_name ORDER BY 2 DESC, 1")


def bad_binary_sql(name: str, events: str) -> str:
    return (f"SELECT DISTINCT metric_value FROM {events} WHERE metric_name = {literal(name)} "
            "AND metric_value NOT IN (0, 1) ORDER BY 1 LIMIT 5")


# DuckDB functions that Trino spells differently (Trino's double sum has no compensated variant)
TRINO_FUNCTIONS = {"fsum": "sum", "isfinite": "is_finite"}


def to_athena(sql: str) -> str:
    """The same statement in Trino's dialect, which Athena (engine v3) runs."""

    def renamed(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() in TRINO_FUNCTIONS:
            return exp.Anonymous(this=TRINO_FUNCTIONS[node.name.lower()], expressions=node.expressions)
        return node

    tree = sqlglot.parse_one(sql, read="duckdb").transform(renamed)
    return tree.sql(dialect="trino", unsupported_level=sqlglot.ErrorLevel.RAISE)
