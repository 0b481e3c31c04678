"""A/B analysis at ten million events: ``findining_mlops.abtest.analyze`` against a straightforward pandas
groupby + scipy/statsmodels computation of the same figures.

The events are 10,000,000 rows of 1,000,000 users (string ids, as the client records them) in a 50/50 test with
two success metrics, ``recommendation_accuracy`` (binary) and ``user_satisfaction`` (continuous), each with a
small true effect, in timestamp order over 14 days. They are generated once, vectorised, and cached as parquet in
the temp directory, so generation is never timed; both contenders read the same file into the same frame.

The baseline is what a competent analyst writes with the usual tools, the shape the module itself had before it
was optimised: distinct users per arm with ``groupby("variant").user_id.nunique()`` and ``scipy.stats.chisquare``
for the sample-ratio check; per metric, its rows, one value per user by ``groupby(["variant", "user_id"])``
(mean, or max for binary), then ``scipy.stats.ttest_ind(equal_var=False)`` or statsmodels' ``proportions_ztest``
and ``confint_proportions_2indep``, and Holm by ``multipletests``. It skips the input validation and the
sequential p-values that ``analyze`` also computes. Both must give the same users, means, difference, interval
and p-values to 1e-9, or the bench fails.

Each contender runs in its own child process; time and memory are measured as ``bench.measure`` says: wall and
CPU time of the analysis alone, and the peak memory it adds above the loaded events.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.measure import ROOT, comparison, in_children, measure

EVENTS = 10_000_000
USERS = 1_000_000
SEED = 11
CONTENDERS = ("findining_mlops", "pandas_scipy")
CONFIG = {
    "control_share": 0.5, "alpha": 0.05, "guardrail_metrics": {},
    "success_metrics": {"recommendation_accuracy": {"kind": "binary"}, "user_satisfaction": {"kind": "continuous"}},
}
TARGET_SPEEDUP = 3.0
TOLERANCE = 1e-9
RESULTS = ROOT / "bench" / "results" / "abtest.json"


def generate(events: int = EVENTS, users: int = USERS, seed: int = SEED) -> pd.DataFrame:
    """Events of a 50/50 test: each event a random user and metric; accuracy converts at 30 % in control and
    30.3 % in treatment, satisfaction is the user's own level N(3.5, 0.6) plus N(0, 1) noise, + 0.005 in
    treatment."""
    rng = np.random.default_rng(seed)
    user_ids = np.char.add("user-", np.char.zfill(np.arange(users).astype(str), 7)).astype(object)
    treated = rng.random(users) < 0.5
    level = rng.normal(3.5, 0.6, users)
    user = rng.integers(0, users, events)
    binary = rng.random(events) < 0.5
    in_treatment = treated[user]
    converted = rng.random(events) < np.where(in_treatment, 0.303, 0.300)
    satisfaction = level[user] + 0.005 * in_treatment + rng.standard_normal(events)
    seconds = rng.integers(0, 14 * 86_400, events)
    order = np.argsort(seconds, kind="stable")  # events arrive in time order, users interleaved
    return pd.DataFrame({
        "user_id": user_ids[user[order]],
        "variant": np.where(in_treatment[order], "treatment", "control").astype(object),
        "metric_name": np.where(binary[order], "recommendation_accuracy", "user_satisfaction").astype(object),
        "metric_value": np.where(binary, converted, satisfaction)[order],
        "timestamp": pd.Timestamp("2026-11-01") + pd.to_timedelta(seconds[order], unit="s"),
    })


def cached_events(events: int, users: int, seed: int = SEED) -> Path:
    """The parquet file of ``generate(events, users, seed)``, written on first use."""
    path = Path(tempfile.gettempdir()) / f"findining-abtest-bench-{events}-{users}-{seed}.parquet"
    if not path.is_file():
        print(f"generating {events:,} events of {users:,} users once, cached in {path}", flush=True)
        partial = path.with_suffix(".partial")
        generate(events, users, seed).to_parquet(partial, index=False)
        partial.rename(path)  # a run interrupted while writing leaves no half file behind
    return path


def _ours(events: pd.DataFrame, config: dict) -> dict:
    from findining_mlops.abtest import analyze

    return analyze(events, config)


def _pandas_scipy(events: pd.DataFrame, config: dict) -> dict:
    """The same figures the usual way: a groupby per question, then the libraries' tests."""
    from scipy import stats
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    alpha, share = config["alpha"], config["control_share"]
    users = events.groupby("variant")["user_id"].nunique()
    observed = np.array([users["control"], users["treatment"]])
    srm_p_value = stats.chisquare(observed, observed.sum() * np.array([share, 1 - share])).pvalue

    metrics = {}
    for name, spec in config["success_metrics"].items():
        binary = spec["kind"] == "binary"
        rows = events[events["metric_name"] == name]
        per_user = rows.groupby(["variant", "user_id"])["metric_value"].agg("max" if binary else "mean")
        control, treatment = per_user.loc["control"], per_user.loc["treatment"]
        if binary:
            counts, nobs = [treatment.sum(), control.sum()], [len(treatment), len(control)]
            p_value = proportions_ztest(counts, nobs)[1]
            ci_low, ci_high = confint_proportions_2indep(counts[0], nobs[0], counts[1], nobs[1], method="wald",
                                                         alpha=alpha)
        else:
            welch = stats.ttest_ind(treatment, control, equal_var=False)
            p_value, (ci_low, ci_high) = welch.pvalue, welch.confidence_interval(1 - alpha)
        metrics[name] = {
            "control": {"users": len(control), "mean": control.mean()},
            "treatment": {"users": len(treatment), "mean": treatment.mean()},
            "difference": treatment.mean() - control.mean(), "ci_low": ci_low, "ci_high": ci_high,
            "p_value": p_value,
        }
    adjusted = multipletests([m["p_value"] for m in metrics.values()], method="holm")[1]
    for result, p_value in zip(metrics.values(), adjusted):
        result["p_value_adjusted"] = p_value
    return {"srm": {"p_value": srm_p_value}, "metrics": metrics}


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


def _child(contender: str, events_path: Path, out: Path) -> None:
    """Read the events, then time one contender's analysis and measure the memory it adds."""
    analyse = _ours if contender == "findining_mlops" else _pandas_scipy
    if contender == "findining_mlops":
        import findining_mlops.abtest  # noqa: F401  (imports are not part of the measurement)
    else:
        import scipy.stats  # noqa: F401
        import statsmodels.stats.multitest  # noqa: F401
        import statsmodels.stats.proportion  # noqa: F401
    events = pd.read_parquet(events_path)
    result, measured = measure(lambda: analyse(events, CONFIG))
    out.write_text(json.dumps({**measured, "figures": _figures(result)}))


def run(events: int = EVENTS, users: int = USERS) -> dict:
    """Both contenders in child processes; returns (and writes) the comparison."""
    events_path = cached_events(events, users)
    measured = in_children("bench.abtest_bench", CONTENDERS, ["--events-file", str(events_path)])
    ours, theirs = (measured[c] for c in CONTENDERS)
    differences = {name: abs(ours["figures"][name] - value) for name, value in theirs["figures"].items()}
    worst = max(differences, key=differences.get)
    compared = comparison(measured, *CONTENDERS)
    results = {
        "events": events,
        "users": users,
        "metrics": {name: spec["kind"] for name, spec in CONFIG["success_metrics"].items()},
        **compared,
        "speedup": 1 / compared["time_ratio"],
        "cpu_speedup": 1 / compared["cpu_time_ratio"],
        "figures_compared": len(differences),
        "max_figure_difference": differences[worst],
        "max_difference_at": worst,
        "figures_agree": set(ours["figures"]) == set(theirs["figures"]) and differences[worst] <= TOLERANCE,
        "figures": ours["figures"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def report(results: dict) -> str:
    ours, theirs = CONTENDERS
    rows = [
        ("wall time (s)", f"{results['seconds'][ours]:.2f}", f"{results['seconds'][theirs]:.2f}",
         f"{results['speedup']:.2f}x faster"),
        ("CPU time (s)", f"{results['cpu_seconds'][ours]:.2f}", f"{results['cpu_seconds'][theirs]:.2f}",
         f"{results['cpu_speedup']:.2f}x faster"),
        ("peak memory above data (MiB)", f"{results['peak_increase_mib'][ours]:.0f}",
         f"{results['peak_increase_mib'][theirs]:.0f}", f"{results['memory_ratio']:.3f} of it"),
        ("process peak (MiB)", f"{results['process_peak_mib'][ours]:.0f}",
         f"{results['process_peak_mib'][theirs]:.0f}", f"{results['process_peak_ratio']:.3f} of it"),
    ]
    figures = results["figures"]
    lines = [f"A/B analysis, {results['events']:,} events of {results['users']:,} users, metrics "
             + ", ".join(f"{name} ({kind})" for name, kind in results["metrics"].items()),
             f"{'':<30}{ours:>16}{theirs:>14}{'ours vs baseline':>18}"]
    lines += [f"{label:<30}{a:>16}{b:>14}{r:>18}" for label, a, b, r in rows]
    lines.append(f"speed target {TARGET_SPEEDUP:.0f}x: {'met' if results['speedup'] >= TARGET_SPEEDUP else 'NOT met'}")
    lines.append(f"figures agree to {TOLERANCE:g}: {'yes' if results['figures_agree'] else 'NO'} "
                 f"({results['figures_compared']} compared, largest difference {results['max_figure_difference']:.1e}"
                 f" at {results['max_difference_at']})")
    for name in results["metrics"]:
        f = {field.removeprefix(name + "."): value for field, value in figures.items() if field.startswith(name)}
        lines.append(f"  {name}: users {f['control.users']:,.0f} / {f['treatment.users']:,.0f}, difference "
                     f"{f['difference']:+.5f} [{f['ci_low']:+.5f}, {f['ci_high']:+.5f}], p {f['p_value']:.3g}")
    lines.append(f"written to {RESULTS}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--events-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.events_file, args.out)
        return
    results = run(args.events, args.users)
    print(report(results))
    if not results["figures_agree"]:
        raise SystemExit(f"the A/B figures differ from the baseline's by more than {TOLERANCE:g}")


if __name__ == "__main__":
    main()
