"""Drift detection at a million rows: ``findining_mlops.monitoring.drift`` against Evidently's ``DataDriftPreset``.

Both detectors see the same 1,000,000 x 20 reference and current frames (15 numerical columns, 5 categorical;
drift in some), generated from the same seed, and both infer the column types themselves, as with defaults.
Measured two ways, as ``bench.measure`` says:

* **detection alone**: each in its own child process so that neither inherits the other's memory, the wall and
  CPU time of the call, and the peak memory it adds above the generated data;
* **whole process**, as a user runs it: the frames written once to two parquet files, then
  ``findining-mlops drift --reference R --current C --json OUT`` against a Python process that reads both files
  with ``pd.read_parquet`` and runs Evidently's report; time from the process's start to its exit, and its
  peak resident set. Targets: at most 1/25 of Evidently's time and 1/3 of its memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bench.measure import ROOT, comparison, in_children, measure, whole_process

ROWS = 1_000_000
SEED = 7
DETECTORS = ("findining_mlops", "evidently")
RESULTS = ROOT / "bench" / "results" / "drift.json"
TARGETS = {"time_ratio": 1 / 25, "process_peak_ratio": 1 / 3}  # whole process, ours / Evidently's


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
    from findining_mlops.monitoring.drift import detect_drift

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
        import findining_mlops.monitoring.drift  # noqa: F401
    reference, current = generate(rows)
    columns, measured = measure(lambda: detect(reference, current))
    out.write_text(json.dumps({**measured, "columns": columns}))


def _evidently_process(reference: Path, current: Path, out: Path) -> None:
    """What a user of Evidently runs: both files read by pandas, the preset's report, its per-column results."""
    warnings.filterwarnings("ignore")
    out.write_text(json.dumps(_evidently(pd.read_parquet(reference), pd.read_parquet(current))))


def cached_files(rows: int) -> tuple[Path, Path]:
    """The generated frames as parquet files, written on first use (the whole-process runs read them)."""
    paths = tuple(Path(tempfile.gettempdir()) / f"findining-drift-bench-{rows}-{SEED}-{side}.parquet"
                  for side in ("reference", "current"))
    if not all(p.is_file() for p in paths):
        for frame, path in zip(generate(rows), paths, strict=False):
            frame.to_parquet(path.with_suffix(".partial"))
            path.with_suffix(".partial").rename(path)  # an interrupted run leaves no half file behind
    return paths


def _whole_processes(rows: int) -> dict[str, dict]:
    """Each detector as its own process, from start to exit, with the per-column results it wrote."""
    reference, current = cached_files(rows)
    measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = {d: Path(tmp, f"{d}.json") for d in DETECTORS}
        cli = str(Path(sys.executable).parent / "findining-mlops")
        measured["findining_mlops"] = whole_process([cli, "drift", "--reference", str(reference), "--current",
                                                     str(current), "--json", str(out["findining_mlops"])])
        measured["evidently"] = whole_process(
            [sys.executable, "-m", "bench.drift_bench", "--evidently-process", str(reference), str(current),
             str(out["evidently"])])
        ours = json.loads(out["findining_mlops"].read_text())["columns"]
        measured["findining_mlops"]["columns"] = {
            name: {"stattest": c["stattest"], "score": c["score"], "drifted": c["drifted"]} for name, c in ours.items()}
        measured["evidently"]["columns"] = json.loads(out["evidently"].read_text())
    return measured


def _agreement(ours: dict, theirs: dict) -> dict:
    decisions = [{name: (c["stattest"], c["drifted"]) for name, c in m["columns"].items()} for m in (ours, theirs)]
    disagreements = sorted(n for n in decisions[0].keys() | decisions[1].keys()
                           if decisions[0].get(n) != decisions[1].get(n))
    return {
        "columns": len(theirs["columns"]),
        "decisions_agree": not disagreements,  # same columns, each with the same test and decision
        "disagreements": disagreements,
        "max_score_difference": max(abs(ours["columns"][n]["score"] - c["score"])
                                    for n, c in theirs["columns"].items() if n in ours["columns"]),
        "drifted_columns": sorted(n for n, c in theirs["columns"].items() if c["drifted"]),
    }


def _whole_comparison(measured: dict[str, dict]) -> dict:
    ours, theirs = (measured[d] for d in DETECTORS)
    share = lambda key: ours[key] / theirs[key]  # noqa: E731
    return {
        **{key: {d: measured[d][key] for d in DETECTORS} for key in ("seconds", "cpu_seconds", "process_peak_mib")},
        "time_ratio": share("seconds"), "cpu_time_ratio": share("cpu_seconds"),
        "process_peak_ratio": share("process_peak_mib"), **_agreement(ours, theirs),
    }


def run(rows: int = ROWS, parts: tuple[str, ...] = ("detection", "process")) -> dict:
    """Both detectors measured in ``parts`` (detection alone, whole process); returns (and writes) the comparison."""
    results: dict = {"rows": rows}
    if "detection" in parts:
        measured = in_children("bench.drift_bench", DETECTORS, ["--rows", str(rows)])
        results |= {**comparison(measured, *DETECTORS), **_agreement(*(measured[d] for d in DETECTORS))}
    if "process" in parts:
        results["whole_process"] = _whole_comparison(_whole_processes(rows))
    if len(parts) == 1 and RESULTS.is_file():  # the other part's figures of an earlier run stay
        results = {**json.loads(RESULTS.read_text()), **results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def report(results: dict) -> str:
    lines = [_detection_report(results)] if "time_ratio" in results else []
    whole = results.get("whole_process")
    if whole:
        lines.append(_whole_report(results["rows"], whole))
    lines.append(f"written to {RESULTS}")
    return "\n".join(lines)


def _agreement_line(results: dict) -> str:
    return (f"per-column decisions agree: {'yes' if results['decisions_agree'] else 'NO'}"
            f"{'' if results['decisions_agree'] else ' (' + ', '.join(results['disagreements']) + ')'}; "
            f"largest score difference {results['max_score_difference']:.1e}; "
            f"drifted: {', '.join(results['drifted_columns']) or 'none'}")


def _whole_report(rows: int, whole: dict) -> str:
    ours, theirs = DETECTORS
    met = lambda key: "met" if whole[key] <= TARGETS[key] else "NOT met"  # noqa: E731
    lines = [f"drift, whole process (findining-mlops drift vs pandas + Evidently), {rows:,} rows x "
             f"{whole['columns']} columns per file",
             f"{'':<30}{ours:>16}{theirs:>12}{'ratio':>10}"]
    for key, ratio, label, form in (("seconds", "time_ratio", "wall time (s)", ".2f"),
                                    ("cpu_seconds", "cpu_time_ratio", "CPU time (s)", ".2f"),
                                    ("process_peak_mib", "process_peak_ratio", "process peak (MiB)", ".0f")):
        lines.append(f"{label:<30}{whole[key][ours]:>16{form}}{whole[key][theirs]:>12{form}}{whole[ratio]:>10.4f}")
    lines.append(f"time {whole['time_ratio']:.4f} of Evidently's (target <= 1/25: {met('time_ratio')}), "
                 f"CPU time {whole['cpu_time_ratio']:.4f}; memory {whole['process_peak_ratio']:.3f} of its "
                 f"(target <= 1/3: {met('process_peak_ratio')})")
    lines.append(_agreement_line(whole))
    return "\n".join(lines)


def _detection_report(results: dict) -> str:
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
    lines = [f"drift detection alone, {results['rows']:,} rows x {results['columns']} columns per frame",
             f"{'':<30}{ours:>16}{theirs:>12}{'ratio':>10}"]
    lines += [f"{label:<30}{a:>16}{b:>12}{r:>10}" for label, a, b, r in rows]
    lines.append(_agreement_line(results))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--only", choices=("detection", "process"), help="measure the detection alone, or the "
                        "whole processes (default: both)")
    parser.add_argument("--child", choices=DETECTORS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--evidently-process", type=Path, nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.rows, args.out)
    elif args.evidently_process:
        _evidently_process(*args.evidently_process)
    else:
        print(report(run(args.rows, (args.only,) if args.only else ("detection", "process"))))


if __name__ == "__main__":
    main()
