"""A/B analysis from parquet: ``findining_mlops`` against a hand-written DuckDB query and against pandas + scipy,
then the 14-day incremental line and the 100-million-event scale run.

Side by side (default 10,000,000 events of 1,000,000 users, a 50/50 test with ``recommendation_accuracy``
(binary) and ``user_satisfaction`` (continuous), each with a small true effect), every contender in its own
process, timed from reading the same parquet file to the per-arm figures:

* ``findining_mlops``: ``abtest.analyze_parquet``, the SQL of ``findining_mlops.abtest.queries`` on DuckDB and the
  statistics in closed form, with its input checks and sequential p-values;
* ``duckdb_query``: what a data engineer writes, a two-level GROUP BY (per user: mean, or max for binary; per
  arm: count, mean, var_samp) and distinct users per arm, then scipy / statsmodels on those numbers;
* ``pandas_scipy``: ``pd.read_parquet``, a groupby per question, ``scipy.stats.ttest_ind`` and statsmodels.

All three must give the same users, means, differences, intervals and p-values to 1e-9, or the bench fails.

Incremental: 14 days of 1,000,000 events in day partitions of 10 batch files, as the client writes them; day 1's
and day 14's ``engine.daily_moments`` against the hand-written query over all 14 days, the best of three runs of
each. Scale: 100,000,000 events of 10,000,000 users, generated once in chunks (the time is reported), analyzed by
``findining_mlops`` alone.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.measure import ROOT, in_children, measure
from findining_mlops.store.layout import abtest_event_batch_key, abtest_events_prefix, abtest_running_users_prefix

EVENTS, USERS = 10_000_000, 1_000_000
SCALE_EVENTS, SCALE_USERS = 100_000_000, 10_000_000
DAYS, EVENTS_PER_DAY = 14, 1_000_000
REPEATS = 3  # the daily runs and the query they are compared with: the best of three each
BATCHES_PER_DAY = 10  # the client writes a part file per batch; a day of a busy test is many batches
CHUNK = 5_000_000
SEED = 11
CONTENDERS = ("findining_mlops", "duckdb_query", "pandas_scipy")
BINARY, CONTINUOUS = "recommendation_accuracy", "user_satisfaction"
CONFIG = {"control_share": 0.5, "alpha": 0.05, "guardrail_metrics": {},
          "success_metrics": {BINARY: {"kind": "binary"}, CONTINUOUS: {"kind": "continuous"}}}
TARGETS = {"time_vs_duckdb_query": 1.1, "speedup_vs_pandas": 5.0, "memory_vs_duckdb_query": 1.1,
           "day14_vs_day1": 1.5, "day14_speedup_vs_query_over_14_days": 5.0, "scale_peak_gib": 4.0}
TOLERANCE = 1e-9
START = date(2026, 11, 1)
TEST_ID = "bench"
RESULTS = ROOT / "bench" / "results" / "abtest.json"


# -- the events ---------------------------------------------------------------------------------------------------
def _chunk(rng, users: int, size: int, treated: np.ndarray, level: np.ndarray) -> pa.Table:
    """``size`` events of random users: accuracy converts at 30 % in control and 30.3 % in treatment; satisfaction
    is the user's own level N(3.5, 0.6) plus N(0, 1) noise, + 0.005 in treatment."""
    user = rng.integers(0, users, size)
    in_treatment = treated[user]
    binary = rng.random(size) < 0.5
    converted = rng.random(size) < np.where(in_treatment, 0.303, 0.300)
    satisfaction = level[user] + 0.005 * in_treatment + rng.standard_normal(size)
    ids = pc.binary_join_element_wise("user-", pc.utf8_lpad(pc.cast(pa.array(user), pa.string()), 8, "0"), "")
    return pa.table({
        "user_id": ids,
        "variant": pa.array(np.where(in_treatment, "treatment", "control")),
        "metric_name": pa.array(np.where(binary, BINARY, CONTINUOUS)),
        "metric_value": pa.array(np.where(binary, converted, satisfaction)),
    })


def write_events(paths: list[Path], events_per_file: int, users: int, seed: int = SEED) -> float:
    """Writes the events, ``events_per_file`` to each path, in chunks so memory stays bounded; returns seconds."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    treated, level = rng.random(users) < 0.5, rng.normal(3.5, 0.6, users)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with pq.ParquetWriter(partial, _chunk(rng, users, 1, treated, level).schema) as writer:
            for begin in range(0, events_per_file, CHUNK):
                writer.write_table(_chunk(rng, users, min(CHUNK, events_per_file - begin), treated, level))
        partial.rename(path)  # an interrupted run leaves no half file behind
    return time.perf_counter() - start


def cached_events(events: int, users: int) -> tuple[Path, float | None]:
    """The bench's parquet file, generated on first use; the generation time when it was generated now."""
    path = Path(tempfile.gettempdir()) / f"findining-abtest-bench-{events}-{users}-{SEED}.parquet"
    if path.is_file():
        return path, None
    print(f"generating {events:,} events of {users:,} users once, in chunks, into {path}", flush=True)
    return path, write_events([path], events, users)


def cached_days(events_per_day: int, users: int) -> tuple[Path, float | None]:
    """A store root with the test's 14 day partitions of ``BATCHES_PER_DAY`` part files, as the client writes
    them."""
    root = Path(tempfile.gettempdir()) / (f"findining-abtest-bench-days-{DAYS}x{events_per_day}-{users}-"
                                          f"{BATCHES_PER_DAY}-batches")
    paths = [root / abtest_event_batch_key(TEST_ID, START + timedelta(days=d), str(b))
             for d in range(DAYS) for b in range(BATCHES_PER_DAY)]
    if all(p.is_file() for p in paths):
        return root, None
    print(f"generating {DAYS} days of {events_per_day:,} events once into {root}", flush=True)
    return root, write_events(paths, events_per_day // BATCHES_PER_DAY, users, SEED + 1)


# -- the contenders -----------------------------------------------------------------------------------------------
def _ours(paths: list[Path]) -> dict:
    from findining_mlops.abtest.analysis import analyze_parquet

    return analyze_parquet(paths, CONFIG)


HAND_WRITTEN = """
WITH per_user AS (
    SELECT variant, metric_name, user_id,
           CASE WHEN metric_name = '{binary}' THEN max(metric_value) ELSE avg(metric_value) END AS value
    FROM read_parquet({files}, hive_partitioning = false)
    GROUP BY variant, metric_name, user_id
)
SELECT variant, metric_name, count(*) AS users, avg(value) AS mean, var_samp(value) AS variance, sum(value) AS total
FROM per_user GROUP BY variant, metric_name
UNION ALL
SELECT variant, NULL, count(DISTINCT user_id), NULL, NULL, NULL FROM per_user GROUP BY variant
"""


def _duckdb_query(paths: list[Path]) -> dict:
    """The hand-written two-level GROUP BY, then the libraries' tests on the per-arm numbers."""
    import duckdb
    from scipy import stats
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    files = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
    rows = duckdb.sql(HAND_WRITTEN.format(binary=BINARY, files=files)).fetchall()
    arms = {(variant, metric): (users, mean, variance, total) for variant, metric, users, mean, variance, total in rows}
    observed = np.array([arms["control", None][0], arms["treatment", None][0]])
    srm = stats.chisquare(observed, observed.sum() * np.array([0.5, 0.5])).pvalue
    alpha, metrics = CONFIG["alpha"], {}
    for name, spec in CONFIG["success_metrics"].items():
        (nc, mc, vc, sc), (nt, mt, vt, st) = arms["control", name], arms["treatment", name]
        if spec["kind"] == "binary":
            counts, nobs = [round(st), round(sc)], [nt, nc]
            p_value = proportions_ztest(counts, nobs)[1]
            ci = confint_proportions_2indep(counts[0], nobs[0], counts[1], nobs[1], method="wald", alpha=alpha)
        else:
            p_value = stats.ttest_ind_from_stats(mt, np.sqrt(vt), nt, mc, np.sqrt(vc), nc, equal_var=False).pvalue
            se2c, se2t = vc / nc, vt / nt
            df = (se2c + se2t) ** 2 / (se2c**2 / (nc - 1) + se2t**2 / (nt - 1))
            half = stats.t.ppf(1 - alpha / 2, df) * np.sqrt(se2c + se2t)
            ci = (mt - mc - half, mt - mc + half)
        metrics[name] = {"control": {"users": nc, "mean": mc}, "treatment": {"users": nt, "mean": mt},
                         "difference": mt - mc, "ci_low": ci[0], "ci_high": ci[1], "p_value": p_value}
    for result, adjusted in zip(metrics.values(), multipletests([m["p_value"] for m in metrics.values()],
                                                                method="holm")[1], strict=False):
        result["p_value_adjusted"] = adjusted
    return {"srm": {"p_value": srm}, "metrics": metrics}


def _pandas_scipy(paths: list[Path]) -> dict:
    """The usual way: the frame in memory, a groupby per question, then the libraries' tests."""
    import pandas as pd
    from scipy import stats
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    events = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    alpha = CONFIG["alpha"]
    users = events.groupby("variant")["user_id"].nunique()
    observed = np.array([users["control"], users["treatment"]])
    srm = stats.chisquare(observed, observed.sum() * np.array([0.5, 0.5])).pvalue
    metrics = {}
    for name, spec in CONFIG["success_metrics"].items():
        binary = spec["kind"] == "binary"
        rows = events[events["metric_name"] == name]
        per_user = rows.groupby(["variant", "user_id"])["metric_value"].agg("max" if binary else "mean")
        control, treatment = per_user.loc["control"], per_user.loc["treatment"]
        if binary:
            counts, nobs = [treatment.sum(), control.sum()], [len(treatment), len(control)]
            p_value = proportions_ztest(counts, nobs)[1]
            ci = confint_proportions_2indep(counts[0], nobs[0], counts[1], nobs[1], method="wald", alpha=alpha)
        else:
            welch = stats.ttest_ind(treatment, control, equal_var=False)
            p_value, ci = welch.pvalue, welch.confidence_interval(1 - alpha)
        metrics[name] = {"control": {"users": len(control), "mean": control.mean()},
                         "treatment": {"users": len(treatment), "mean": treatment.mean()},
                         "difference": treatment.mean() - control.mean(), "ci_low": ci[0], "ci_high": ci[1],
                         "p_value": p_value}
    for result, adjusted in zip(metrics.values(), multipletests([m["p_value"] for m in metrics.values()],
                                                                method="holm")[1], strict=False):
        result["p_value_adjusted"] = adjusted
    return {"srm": {"p_value": srm}, "metrics": metrics}


ANALYSES = {"findining_mlops": _ours, "duckdb_query": _duckdb_query, "pandas_scipy": _pandas_scipy}


def _figures(result: dict) -> dict[str, float]:
    """The compared numbers of one contender's result, flat: ``metric.field`` -> value."""
    figures = {"srm.p_value": float(result["srm"]["p_value"])}
    for name, metric in result["metrics"].items():
        for arm in ("control", "treatment"):
            figures[f"{name}.{arm}.users"] = float(metric[arm]["users"])
            figures[f"{name}.{arm}.mean"] = float(metric[arm]["mean"])
        for field in ("difference", "ci_low", "ci_high", "p_value", "p_value_adjusted"):
            figures[f"{name}.{field}"] = float(metric[field])
    return figures


def _best(runs: list[dict]) -> dict:
    """The fastest of repeated runs, as ``timeit`` reports: other load on a shared machine only ever adds time."""
    return {**min(runs, key=lambda m: m["seconds"]), "cpu_seconds": min(m["cpu_seconds"] for m in runs),
            "peak_increase_mib": max(m["peak_increase_mib"] for m in runs),
            "process_peak_mib": max(m["process_peak_mib"] for m in runs)}


def _incremental(root: Path) -> dict:
    """Days 1..14 of ``daily_moments`` on a local store, each day run ``REPEATS`` times (a re-run of a day writes
    the same table); the best time and the memory of each day."""
    from findining_mlops.abtest import engine
    from findining_mlops.abtest.analysis import sql_plan
    from findining_mlops.abtest.stats import analyze_moments
    from findining_mlops.platform.local.store import LocalArtifactStore

    store, plan = LocalArtifactStore(root), sql_plan(CONFIG)
    store.delete_prefix(abtest_running_users_prefix(TEST_ID))
    days = []
    for d in range(DAYS):
        day = START + timedelta(days=d)
        runs = [measure(lambda day=day: analyze_moments(engine.daily_moments(store, TEST_ID, plan, day, START),
                                                         CONFIG)) for _ in range(REPEATS)]
        result = runs[-1][0]
        days.append(_best([m for _, m in runs]))
    return {"days": days, "figures": _figures(result)}


def _child(contender: str, events: list[Path], out: Path, repeats: int = 1) -> None:
    """Time one contender from reading the files to its figures, and the memory it adds."""
    import duckdb  # noqa: F401  (imports are not part of the measurement)
    import scipy.stats  # noqa: F401
    import statsmodels.stats.proportion  # noqa: F401

    import findining_mlops.abtest.engine  # noqa: F401

    if contender == "incremental":
        out.write_text(json.dumps(_incremental(events[0])))
        return
    runs = [measure(lambda: ANALYSES[contender](events)) for _ in range(repeats)]
    out.write_text(json.dumps({**_best([m for _, m in runs]), "figures": _figures(runs[-1][0])}))


# -- the runs -----------------------------------------------------------------------------------------------------
def _agreement(measured: dict[str, dict]) -> dict:
    ours = measured["findining_mlops"]["figures"]
    worst = {"difference": 0.0, "at": None}
    for contender, result in measured.items():
        for name, value in result["figures"].items():
            difference = abs(ours[name] - value)
            if difference > worst["difference"]:
                worst = {"difference": difference, "at": f"{name} ({contender})"}
    same_names = all(set(r["figures"]) == set(ours) for r in measured.values())
    return {"max_figure_difference": worst["difference"], "max_difference_at": worst["at"],
            "figures_agree": same_names and worst["difference"] <= TOLERANCE}


def side_by_side(events: int, users: int) -> dict:
    path, generated = cached_events(events, users)
    measured = in_children("bench.abtest_bench", CONTENDERS, ["--files", str(path)])
    ours, query, pandas = (measured[c] for c in CONTENDERS)
    return {
        "events": events, "users": users, "generation_seconds": generated,
        **{key: {c: measured[c][key] for c in CONTENDERS}
           for key in ("seconds", "cpu_seconds", "peak_increase_mib", "process_peak_mib")},
        "time_vs_duckdb_query": ours["seconds"] / query["seconds"],
        "cpu_time_vs_duckdb_query": ours["cpu_seconds"] / query["cpu_seconds"],  # steadier on a shared machine
        "speedup_vs_pandas": pandas["seconds"] / ours["seconds"],
        "cpu_speedup_vs_pandas": pandas["cpu_seconds"] / ours["cpu_seconds"],
        # the memory the analysis adds: a child's process peak also counts the parent's at fork (Linux keeps
        # the high-water mark across fork and exec), which is the data generator's when the file is generated now
        "memory_vs_duckdb_query": ours["peak_increase_mib"] / query["peak_increase_mib"],
        **_agreement(measured), "figures": ours["figures"],
    }


def incremental(events_per_day: int, users: int) -> dict:
    root, generated = cached_days(events_per_day, users)
    files = sorted(str(p) for p in (root / abtest_events_prefix(TEST_ID)).glob("dt=*/*.parquet"))
    measured = in_children("bench.abtest_bench", ("incremental",), ["--files", str(root)])
    query = in_children("bench.abtest_bench", ("duckdb_query",),
                        ["--repeats", str(REPEATS), "--files", *files])["duckdb_query"]
    days = measured["incremental"]["days"]
    agreement = _agreement({"findining_mlops": measured["incremental"], "duckdb_query": query})
    return {"days": DAYS, "events_per_day": events_per_day, "users": users, "generation_seconds": generated,
            "day_seconds": [d["seconds"] for d in days], "day_cpu_seconds": [d["cpu_seconds"] for d in days],
            "day14_vs_day1": days[-1]["seconds"] / days[0]["seconds"],
            "day14_vs_day1_cpu": days[-1]["cpu_seconds"] / days[0]["cpu_seconds"],
            "query_over_14_days_seconds": query["seconds"],
            "query_over_14_days_cpu_seconds": query["cpu_seconds"],
            "day14_speedup_vs_query_over_14_days": query["seconds"] / days[-1]["seconds"],
            "day14_cpu_speedup_vs_query_over_14_days": query["cpu_seconds"] / days[-1]["cpu_seconds"],
            "day_peak_mib": max(d["process_peak_mib"] for d in days), **agreement}


def scale(events: int, users: int) -> dict:
    path, generated = cached_events(events, users)
    ours = in_children("bench.abtest_bench", ("findining_mlops",), ["--files", str(path)])["findining_mlops"]
    return {"events": events, "users": users, "generation_seconds": generated, "seconds": ours["seconds"],
            "cpu_seconds": ours["cpu_seconds"], "process_peak_mib": ours["process_peak_mib"],
            "scale_peak_gib": ours["process_peak_mib"] / 1024}


def report(results: dict) -> str:
    met = lambda key, value, at_most=True: (  # noqa: E731
        "met" if (value <= TARGETS[key] if at_most else value >= TARGETS[key]) else "NOT met")
    lines = []
    side = results.get("side_by_side")
    if side:
        lines.append(f"A/B analysis from parquet, {side['events']:,} events of {side['users']:,} users "
                     "(each contender a process, from reading the file to the figures)")
        lines.append(f"{'':<24}" + "".join(f"{c:>18}" for c in CONTENDERS))
        for key, label in (("seconds", "wall time (s)"), ("cpu_seconds", "CPU time (s)"),
                           ("peak_increase_mib", "peak memory added (MiB)"),
                           ("process_peak_mib", "process peak (MiB)")):
            lines.append(f"{label:<24}" + "".join(f"{side[key][c]:>18.2f}" for c in CONTENDERS))
        lines.append(f"time vs the DuckDB query {side['time_vs_duckdb_query']:.2f} (target <= "
                     f"{TARGETS['time_vs_duckdb_query']}: {met('time_vs_duckdb_query', side['time_vs_duckdb_query'])})"
                     f", CPU time {side['cpu_time_vs_duckdb_query']:.2f} "
                     f"({met('time_vs_duckdb_query', side['cpu_time_vs_duckdb_query'])}); "
                     f"memory vs it {side['memory_vs_duckdb_query']:.2f} (target <= "
                     f"{TARGETS['memory_vs_duckdb_query']}: "
                     f"{met('memory_vs_duckdb_query', side['memory_vs_duckdb_query'])})")
        lines.append(f"{side['speedup_vs_pandas']:.1f}x faster than pandas + scipy (target >= "
                     f"{TARGETS['speedup_vs_pandas']:.0f}x: "
                     f"{met('speedup_vs_pandas', side['speedup_vs_pandas'], at_most=False)}), in CPU time "
                     f"{side['cpu_speedup_vs_pandas']:.1f}x "
                     f"({met('speedup_vs_pandas', side['cpu_speedup_vs_pandas'], at_most=False)})")
        lines.append(f"figures agree to {TOLERANCE:g}: {'yes' if side['figures_agree'] else 'NO'} (largest "
                     f"difference {side['max_figure_difference']:.1e} at {side['max_difference_at']})")
    daily = results.get("incremental")
    if daily:
        lines.append(f"incremental, {daily['days']} days of {daily['events_per_day']:,} events: day 1 "
                     f"{daily['day_seconds'][0]:.2f} s, day 14 {daily['day_seconds'][-1]:.2f} s "
                     f"({daily['day14_vs_day1']:.2f}x day 1, target <= {TARGETS['day14_vs_day1']}: "
                     f"{met('day14_vs_day1', daily['day14_vs_day1'])}; CPU time "
                     f"{daily['day_cpu_seconds'][0]:.2f} s and {daily['day_cpu_seconds'][-1]:.2f} s, "
                     f"{daily['day14_vs_day1_cpu']:.2f}x: {met('day14_vs_day1', daily['day14_vs_day1_cpu'])})")
        key = "day14_speedup_vs_query_over_14_days"
        target, speedups = TARGETS[key], [daily[key], daily["day14_cpu_speedup_vs_query_over_14_days"]]
        lines.append(f"the DuckDB query over all 14 days {daily['query_over_14_days_seconds']:.2f} s "
                     f"({daily['query_over_14_days_cpu_seconds']:.2f} s CPU), {speedups[0]:.1f}x day 14's time "
                     f"(target >= {target:.0f}x: {met(key, speedups[0], False)}), "
                     f"{speedups[1]:.1f}x its CPU time ({met(key, speedups[1], False)}); "
                     f"figures agree: {'yes' if daily['figures_agree'] else 'NO'}")
    big = results.get("scale")
    if big:
        generated = (f"generated in {big['generation_seconds']:.0f} s" if big["generation_seconds"] is not None
                     else "generated by an earlier run")
        lines.append(f"scale, {big['events']:,} events of {big['users']:,} users ({generated}): analyzed in "
                     f"{big['seconds']:.1f} s, process peak {big['scale_peak_gib']:.2f} GiB (target <= "
                     f"{TARGETS['scale_peak_gib']:.0f} GiB: {met('scale_peak_gib', big['scale_peak_gib'])})")
    lines.append(f"written to {RESULTS}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--events-per-day", type=int, default=EVENTS_PER_DAY)
    parser.add_argument("--scale-events", type=int, default=SCALE_EVENTS, help="0 skips the scale run")
    parser.add_argument("--scale-users", type=int, default=SCALE_USERS)
    parser.add_argument("--only", choices=("side_by_side", "incremental"), help="one part (and the scale run "
                        "unless --scale-events 0); default: all")
    parser.add_argument("--child", choices=(*CONTENDERS, "incremental"), help=argparse.SUPPRESS)
    parser.add_argument("--files", type=Path, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.files, args.out, args.repeats)
        return
    results = {}
    if args.only in (None, "side_by_side"):
        results["side_by_side"] = side_by_side(args.events, args.users)
    if args.only in (None, "incremental"):
        results["incremental"] = incremental(args.events_per_day, args.users)
    if args.scale_events:
        results["scale"] = scale(args.scale_events, args.scale_users)
    # the figures of parts not run this time (--only, --scale-events 0) stay from an earlier run
    results = {**(json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}), **results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    if not all(results[part]["figures_agree"] for part in ("side_by_side", "incremental") if part in results):
        raise SystemExit(f"the A/B figures differ between the contenders by more than {TOLERANCE:g}")


if __name__ == "__main__":
    main()
