"""
### Model monitoring

Every day, for every model of the catalog (one mapped branch each), checks whether the
version(s) that served the day still see the data they were trained on and still perform —
the seed's `model-performance-monitor` and daily retraining check.

For the run's logical date:

1. **analyze**: load the day's data capture of the model's endpoint (all variants),
   validate it (malformed records above the policy's share fail the run, naming the
   partition); per version that served the day (named by the capture's variants, not by
   what serves now; during a canary, each version on its own requests): compute drift
   against that version's reference profile (decisions agree with Evidently's
   `DataDriftPreset`; its HTML report is rendered from a sample), join the day's ground
   truth by inference id and score it against the version's own evaluation, publish the
   figures to the metrics namespace `FindDining/ModelMonitoring`, and write
   `reports/<model>/dt=<date>/{drift.json, drift.html, performance.json}` (top level: the
   version that served most of the day; `per_version`: each);
2. **decide**: apply the retrain policy (drift share, performance drop, data age,
   cool-down, one retraining per drift episode, minimum rows) and write `decision.json`
   with every rule and its figure; a day without traffic or ground truth is alerted;
3. **retrain**: trigger `model_retraining` with the decision's reason, once per model and
   day (`monitoring__<model>__<date>`), so a re-run backfill triggers nothing twice.

Backfill past days from the UI or `airflow backfill create --dag-id model_monitoring
--from-date … --to-date … --max-active-runs 4`: the days are analyzed side by side
(`max_active_runs`), and only **decide** waits for the previous run's decisions
(`depends_on_past`), because each decision continues the streaks and episode of the day
before it. The first run of a backfill, or the DAG's first run, decides at once; a day
whose decision failed holds back the later days' decisions until it is cleared and decided.
A backfill judges each day with the version(s) that served it, so re-running a day at any
later time rewrites the same bytes, in whatever order the analyses ran.
"""

from __future__ import annotations

import json
from datetime import date

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import task

from findining_airflow.authoring import daily_dag, model_task, run_day
from findining_airflow.notifications import day_not_checked, retraining_triggered
from findining_mlops.config.catalog import get_model, model_names

# days analyzed at once; each analysis is one process per model, on a 2-core machine
MAX_PARALLEL_DAYS = 4


@daily_dag("model_monitoring", max_active_runs=MAX_PARALLEL_DAYS, doc_md=__doc__,
           tags=["findining", "mlops", "monitoring"])
def model_monitoring():
    @task(multiple_outputs=False, map_index_template="{{ model_name }}")
    def analyze(model_name: str, data_interval_start=None, dag_run=None) -> dict:
        from findining_mlops.monitoring.analysis import analyze_day

        day = run_day(dag_run, data_interval_start)
        with model_task(model_name) as (platform, spec):
            summary = analyze_day(platform, spec, day)
        print(f"{model_name} {summary['day']}: {summary['outcome']}, drift share {summary.get('drift_share')}, "
              f"{summary.get('primary_metric')} {summary.get('performance')}")
        return summary

    @task(multiple_outputs=False, depends_on_past=True)
    def decide(analysis: dict) -> dict:
        from findining_airflow.runtime import platform
        from findining_mlops.monitoring.analysis import CHECKED, decide

        model, day = analysis["model"], analysis["day"]
        decision = decide(platform(), get_model(model), date.fromisoformat(day), analysis)
        check = decision["outcome"]
        if check != CHECKED:
            day_not_checked(model, day, check, analysis.get("message", check))
        if decision["retrain"]:
            retraining_triggered(model, day, decision["reason"])
        print(json.dumps(decision, indent=2))
        return decision

    @task
    def retrain_requests(decisions: list[dict]) -> list[dict]:
        from findining_mlops.monitoring.analysis import retraining_run_id

        return [
            {
                "trigger_run_id": retraining_run_id(d["model"], date.fromisoformat(d["day"])),
                "conf": {"model_name": d["model"], "reason": f"model_monitoring {d['day']}: {d['reason']}"[:500],
                         "data_end_date": d["day"]},
            }
            for d in decisions
            if d["retrain"]
        ]

    decisions = decide.expand(analysis=analyze.expand(model_name=model_names()))
    TriggerDagRunOperator.partial(
        task_id="trigger_retraining", trigger_dag_id="model_retraining", skip_when_already_exists=True,
        logical_date=None,
    ).expand_kwargs(retrain_requests(decisions))


model_monitoring()
