"""A 30-day ``model_monitoring`` backfill through the real scheduler, the old way and the new
way in the same run (``python -m bench.backfill_bench``; not part of ``make bench``: it takes
about a quarter of an hour).

* ``sequential``: as when issue 17 was filed, Airflow's plain LocalExecutor (every task process
  imports its libraries) and one day at a time (the backfill's ``max_active_runs=1``);
* ``parallel``: as now, ``PreloadedLocalExecutor`` and the demo's ``BACKFILL_PARALLEL_DAYS``
  days at once (only ``decide`` waits for the day before).

Both start from one prepared state: synthetic app data with drift from day 15 of the 30,
every model bootstrapped by ``model_retraining``, the 30 days of traffic replayed. Each runs
in a copy of it with a fresh Airflow, ``model_retraining`` paused (the decisions are
measured, not the retrainings they ask for), and both must write the same ``decision.json``,
byte for byte, for every model and day, or the bench fails. Prints both wall times, from the
backfill's request to its last run's end, and their ratio; writes bench/results/backfill.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from bench.measure import ROOT

START = date(2026, 10, 1)
TRAINING_DAYS = 14
DAYS = 30
SEED = 42
REPLAY_LIMIT = 300  # requests per model and day, as the demo's replay
RESULTS = ROOT / "bench" / "results" / "backfill.json"
PLAIN_EXECUTOR = "LocalExecutor"
PRELOADED_EXECUTOR = "findining_airflow.executors.PreloadedLocalExecutor"


def _airflow(home: Path, findining_home: Path, executor: str) -> tuple[dict[str, str], Path]:
    from devtools.local_airflow import airflow_env, free_port

    env = airflow_env(ROOT, free_port())
    env.update(AIRFLOW_HOME=str(home / "airflow"), FINDINING_HOME=str(findining_home), AIRFLOW__CORE__EXECUTOR=executor,
               AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False")  # only the bench's runs
    return env, home / "airflow" / "airflow.log"


def prepare(home: Path) -> list[date]:
    """The shared starting state in ``home/findining``; returns the days to backfill."""
    from devtools.airflow_client import wait_for_dags
    from devtools.local_airflow import running_airflow
    from devtools.traffic import replay_day
    from findining_mlops.config.catalog import get_model, model_names
    from findining_mlops.data.synthetic import ScenarioPlan, generate
    from findining_mlops.platform.local import local_platform

    findining_home = home / "findining"
    platform = local_platform(findining_home, seed=SEED)
    bootstrap_end = START + timedelta(days=TRAINING_DAYS - 1)
    days = [bootstrap_end + timedelta(days=k) for k in range(1, DAYS + 1)]
    generate(platform.store, START, TRAINING_DAYS + DAYS, SEED,
             ScenarioPlan("new-district,slang-shift", days[DAYS // 2]))
    env, log_path = _airflow(home / "prepare", findining_home, PRELOADED_EXECUTOR)
    with running_airflow(env, log_path) as (client, _):
        wait_for_dags(client, ["model_retraining"])
        runs = [client.trigger("model_retraining", {"model_name": m, "reason": "bench bootstrap",
                                                    "data_end_date": bootstrap_end.isoformat()})
                for m in model_names()]
        states = client.wait("model_retraining", runs)
        if set(states.values()) != {"success"}:
            raise RuntimeError(f"the bootstrap failed: {states}; see {log_path}")
        with ThreadPoolExecutor(len(model_names())) as pool:
            list(pool.map(lambda m: [replay_day(platform, get_model(m), d, limit=REPLAY_LIMIT) for d in days],
                          model_names()))
    return days


def backfill(home: Path, prepared: Path, days: list[date], executor: str, max_active_runs: int) -> dict:
    """One backfill of ``days`` in a copy of the prepared state; its wall time and decisions."""
    from devtools.airflow_client import wait_for_dags, wait_for_runs
    from devtools.local_airflow import running_airflow
    from findining_mlops.config.catalog import model_names

    findining_home = home / "findining"
    shutil.copytree(prepared, findining_home)
    env, log_path = _airflow(home, findining_home, executor)
    with running_airflow(env, log_path) as (client, _):
        wait_for_dags(client, ["model_monitoring", "model_retraining"])
        client.set_paused("model_retraining", True)
        started = time.monotonic()
        client.backfill("model_monitoring", days[0], days[-1], max_active_runs)
        wait_for_runs(client, "model_monitoring", len(days))
        seconds = time.monotonic() - started
        states = {r["state"] for r in client.runs("model_monitoring")}
    decisions = {f"{m}/{d}": (findining_home / "store" / "reports" / m / f"dt={d}" / "decision.json").read_text()
                 for m in model_names() for d in days}
    return {"seconds": round(seconds, 1), "run_states": sorted(states), "decisions": decisions}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the working directory (its path is printed)")
    args = parser.parse_args(argv)
    from devtools.demo import BACKFILL_PARALLEL_DAYS
    from findining_mlops.config.catalog import model_names

    work = Path(tempfile.mkdtemp(prefix="findining-backfill-bench-"))
    try:
        started = time.monotonic()
        days = prepare(work / "prepared")
        print(f"prepared {DAYS} days of {', '.join(model_names())} in {time.monotonic() - started:.0f} s", flush=True)
        ways = {"sequential": (PLAIN_EXECUTOR, 1), "parallel": (PRELOADED_EXECUTOR, BACKFILL_PARALLEL_DAYS)}
        results = {}
        for name, (executor, runs) in ways.items():
            results[name] = backfill(work / name, work / "prepared" / "findining", days, executor, runs)
            print(f"{name:<10} {executor:<52} max_active_runs {runs}: {results[name]['seconds']:7.1f} s "
                  f"({', '.join(results[name]['run_states'])})", flush=True)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sequential, parallel = results["sequential"], results["parallel"]
    same = sequential["decisions"] == parallel["decisions"]
    ratio = parallel["seconds"] / sequential["seconds"]
    print(f"parallel / sequential: {ratio:.2f} (target <= 0.33); the same decisions for "
          f"{len(parallel['decisions'])} model-days: {same}")
    RESULTS.write_text(json.dumps({
        "days": DAYS, "models": model_names(), "ratio": round(ratio, 3), "same_decisions": same,
        **{name: {k: v for k, v in r.items() if k != "decisions"} for name, r in results.items()},
        "retrainings_asked_for": sorted(k for k, v in parallel["decisions"].items() if json.loads(v)["retrain"]),
    }, indent=2) + "\n")
    return 0 if same and {"success"} == set(sequential["run_states"]) == set(parallel["run_states"]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
