"""Drift detection at a million rows: ``findining_mlops.drift`` against Evidently's ``DataDriftPreset``.

Both detectors see the same 1,000,000 x 20 reference and current frames (15 numerical columns, 5 categorical;
drift in some), generated from the same seed, and both infer the column types themselves, as with defaults.
Each runs in its own child process so that neither inherits the other's memory, measured as ``bench.measure``
says: wall and CPU time of the detection alone, and the peak memory it adds above the generated data.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bench.measure import ROOT, comparison, in_children, measure

ROWS = 1_000_000
SEED = 7
DETECTORS = ("findining_mlops", "evidently")
RESULTS = ROOT / "bench" / "results" / "drift.json"


def generate(rows: int = ROWS, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames; columns num_00..num_14 and cat_0..cat_4, some drifted, some with gaps."""
    rng = np.random.default_rng(seed)
    frames = []
    for side in ("reference", "current"):
        drifted = side == "current"
        columns: dict[str, np.ndarray] = {}
        for k in range(15):
            shift = 0.3 if drifted and k % 4 == 0 else 0.0  # num_00, num_04, num_08, num_12 drift
            match k % 3:
                case 0:
                    values = rng.normal(10.0 + shift, 2.0, rows)
                case 1:
                    values = rng.lognormal(shift, 0.8, rows)
                case _:
                    values = np.round(rng.uniform(0, 100 + 30 * shift, rows))  # many ties
            if k % 5 == 1:  # num_01, num_06, num_11: a few per cent missing, more in the current frame
                values[rng.random(rows) < (0.03 if drifted else 0.01)] = np.nan
            columns[f"num_{k:02d}"] = values
        for k in range(5):
            labels = np.array([f"c{k}_{v}" for v in range(4 + 6 * k)], dtype=object)
            weights = np.linspace(1.0, 2.0, len(labels))
            if drifted and k in (1, 3):  # cat_1 and cat_3 drift
                weights = weights[::-1] ** 2
            values = rng.choice(labels, rows, p=weights / weights.sum())
            if k == 2:
                values[rng.random(rows) < 0.02] = None
            columns[f"cat_{k}"] = values
        frames.append(pd.DataFrame(columns))
    return frames[0], frames[1]


def _ours(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, dict]:
    from findining_mlops.drift import detect_drift

    result = detect_drift(reference, current).to_dict()
    return {name: {"stattest": c["stattest"], "score": c["score"], "drifted": c["drifted"]}
            for name, c in result["columns"].items()}


def _evidently(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, dict]:
    from evidently import Report
    from evidently.legacy.calculations import stattests
    from evidently.presets import DataDriftPreset

    names = {t.display_name: t.name for t in (stattests.wasserstein_stat_test, stattests.jensenshannon_stat_test,
                                              stattests.ks_stat_test, stattests.chi_stat_test, stattests.z_stat_test)}
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current_data=current, reference_data=reference)
    report = snapshot.dict()
    drifted = {t["metric_config"]["params"]["column"]: t["status"] == "FAIL"
               for t in report["tests"] if t["id"] == "drift"}
    return {m["config"]["column"]: {"stattest": names[m["config"]["method"]], "score": float(m["value"]),
                                    "drifted": drifted[m["config"]["column"]]}
            for m in report["metrics"] if m["config"]["type"] == "evidently:metric_v2:ValueDrift"}


def _child(detector: str, rows: int, out: Path) -> None:
    """Generate the data, then time one detector and measure the memory it adds."""
    warnings.filterwarnings("ignore")  # Evidently's numpy warnings would bury the table
    detect = _ours if detector == "findining_mlops" else _evidently
    if detector == "evidently":
        import evidently.presets  # noqa: F401  (imports are not part of the measurement)
    else:
        import findining_mlops.drift  # noqa: F401
    reference, current = generate(rows)
    columns, measured = measure(lambda: detect(reference, current))
    out.write_text(json.dumps({**measured, "columns": columns}))


def run(rows: int = ROWS) -> dict:
    """Both detectors in child processes; returns (and writes) the comparison."""
    measured = in_children("bench.drift_bench", DETECTORS, ["--rows", str(rows)])
    ours, theirs = measured["findining_mlops"], measured["evidently"]
    decisions = [{name: (c["stattest"], c["drifted"]) for name, c in m["columns"].items()} for m in (ours, theirs)]
    disagreements = sorted(n for n in decisions[0].keys() | decisions[1].keys()
                           if decisions[0].get(n) != decisions[1].get(n))
    results = {
        "rows": rows,
        "columns": len(theirs["columns"]),
        **comparison(measured, *DETECTORS),
        "decisions_agree": not disagreements,  # same columns, each with the same test and decision
        "disagreements": disagreements,
        "max_score_difference": max(abs(ours["columns"][n]["score"] - c["score"])
                                    for n, c in theirs["columns"].items() if n in ours["columns"]),
        "drifted_columns": sorted(n for n, c in theirs["columns"].items() if c["drifted"]),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def report(results: dict) -> str:
    ours, theirs = DETECTORS
    rows = [
        ("wall time (s)", f"{results['seconds'][ours]:.2f}", f"{results['seconds'][theirs]:.2f}",
         f"{results['time_ratio']:.4f}"),
        ("CPU time (s)", f"{results['cpu_seconds'][ours]:.2f}", f"{results['cpu_seconds'][theirs]:.2f}",
         f"{results['cpu_time_ratio']:.4f}"),
        ("peak memory above data (MiB)", f"{results['peak_increase_mib'][ours]:.0f}",
         f"{results['peak_increase_mib'][theirs]:.0f}", f"{results['memory_ratio']:.3f}"),
        ("process peak (MiB)", f"{results['process_peak_mib'][ours]:.0f}",
         f"{results['process_peak_mib'][theirs]:.0f}", f"{results['process_peak_ratio']:.3f}"),
    ]
    lines = [f"drift detection, {results['rows']:,} rows x {results['columns']} columns per frame",
             f"{'':<30}{ours:>16}{theirs:>12}{'ratio':>10}"]
    lines += [f"{label:<30}{a:>16}{b:>12}{r:>10}" for label, a, b, r in rows]
    lines.append(f"per-column decisions agree: {'yes' if results['decisions_agree'] else 'NO'}"
                 f"{'' if results['decisions_agree'] else ' (' + ', '.join(results['disagreements']) + ')'}; "
                 f"largest score difference {results['max_score_difference']:.1e}; "
                 f"drifted: {', '.join(results['drifted_columns']) or 'none'}")
    lines.append(f"written to {RESULTS}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--child", choices=DETECTORS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.rows, args.out)
    else:
        print(report(run(args.rows)))


if __name__ == "__main__":
    main()
