"""
### A/B test analysis (daily)

Every day, for every A/B test running that day — the seed's `ab-test-manager`
`analyze_test` action on a schedule:

1. **analyze** (one mapped branch per test): every metric event up to the end of the
   run's day (parquet batches under `abtests/<test-id>/events/dt=…/`), reduced in SQL to one
   value per user and a few sums per arm — by DuckDB, merging the day into the running
   per-user aggregate, or by Athena when `FINDINING_AB_ENGINE=athena` — then, at the user
   level — users, means, difference with its confidence interval and
   p-value per arm and metric (Welch's t-test / two-proportion z-test), the sample-ratio
   check against the planned split, always-valid (mSPRT) p-values because this is read
   every day, Holm across the success metrics, guardrails outside that family. Written to
   `abtests/<test-id>/dt=YYYY-MM-DD/analysis.json` and `report.html` (the daily intervals).
2. **finish** a test that is decided: stopped on a sample-ratio mismatch or a worse
   guardrail (no winner), concluded on a significant win or at the end of its duration (the
   control stays when nothing won). The endpoint is freed and the result summarised on the
   alerts topic.
3. **deploy the outcome** through `model_deployment` (run id `abtest__<test-id>`, so a
   re-run never deploys twice): the winner to 100 %, or, for a stopped test, the control
   takes all users back at once.

Backfill past days from the UI; a re-run of a day rewrites that day's files and changes
nothing that is already finished.

**On demand** (the guide's `{"action": "analyze_test", "test_id": "…"}` as the conf): a run
triggered with a `test_id` analyses that one test, for the run's day, the same way.
"""

from __future__ import annotations

from datetime import date

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, task

from findining_airflow.abtest_analysis import analyze_and_finish
from findining_airflow.authoring import daily_dag, run_day, task_platform
from findining_airflow.guide import action_param


@daily_dag(
    "ab_test_analysis",
    doc_md=__doc__,
    tags=["findining", "mlops", "ab-test"],
    params={
        "action": action_param("ab_test_analysis"),
        "test_id": Param(None, type=["null", "string"], minLength=1,
                         description="analyze this one test on demand (default: every test running that day)"),
    },
)
def ab_test_analysis():
    @task
    def running_tests(params: dict, data_interval_start=None, dag_run=None) -> list[dict]:
        from findining_mlops.abtest.lifecycle import one_test_on, running_on

        day = run_day(dag_run, data_interval_start)
        with task_platform() as platform:
            test_id = params["test_id"]
            tests = one_test_on(platform, test_id, day) if test_id else running_on(platform, day)
        print(f"{day}: {len(tests)} A/B test(s) running: {[t.test_id for t in tests]}")
        return [{"test_id": t.test_id, "day": day.isoformat()} for t in tests]

    @task(multiple_outputs=False, map_index_template="{{ test['test_id'] }}")
    def analyze(test: dict) -> dict:
        return analyze_and_finish(test["test_id"], date.fromisoformat(test["day"]))

    @task
    def endings(results: list[dict]) -> list[dict]:
        return [r for r in results if r["conf"] is not None]

    TriggerDagRunOperator.partial(
        task_id="deploy_outcome", trigger_dag_id="model_deployment", skip_when_already_exists=True, logical_date=None,
    ).expand_kwargs(endings(analyze.expand(test=running_tests())))


ab_test_analysis()
