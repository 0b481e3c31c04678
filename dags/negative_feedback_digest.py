"""
### Negative feedback digest

Every day: why diners complained, per restaurant — the seed's `bedrock-nlp-processor`.

For the run's logical date:

1. **prepare / analyze**: the day's feedback (`data/feedback/dt=<date>/`) that the live sentiment
   model scores negative, each redacted of personal data and analyzed into the
   feedback-analysis JSON Schema (aspects with severity and evidence, summary, suggested
   reply, needs-attention) — by Amazon Bedrock's Converse API on `aws` (model id and
   guardrail from `FINDINING_BEDROCK_*`; token usage to CloudWatch `FindDining/FeedbackAnalysis`),
   by the live aspect and sentiment models on `local` → `reports/feedback/dt=<date>/analyses.jsonl`.
   On `aws` with `FINDINING_BEDROCK_BATCH_ROLE_ARN` set and at least Bedrock's batch minimum
   (100) of records, the day goes as one batch inference job instead (**submit_batch**,
   **wait_for_batch** in reschedule mode, **collect_batch**);
2. **digest**: counts per aspect, severities and example summaries per restaurant, and
   the restaurants whose hygiene or safety complaints spike against their own last 28
   days → `digest.json` and `digest.html`;
3. **alert**: one alert per spiking restaurant, once per day however often it re-runs.

Backfill past days in date order (`max_active_runs=1`): each day's spikes are judged
against the digests before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import task

from findining_airflow.authoring import findining_dag


@findining_dag(
    "negative_feedback_digest",
    schedule="@daily",
    start_date=datetime(2026, 10, 1),
    max_active_runs=1,
    doc_md=__doc__,
    tags=["findining", "feedback", "bedrock"],
)
def negative_feedback_digest():
    @task(multiple_outputs=False)
    def prepare(data_interval_start=None, dag_run=None) -> dict:
        from findining_airflow.errors import fail_fast
        from findining_airflow.hooks.bedrock import plan_day

        # a run triggered by hand without a logical date digests the day before it
        day = (data_interval_start or dag_run.run_after - timedelta(days=1)).date()
        with fail_fast():
            plan = plan_day(day)
        print(f"{day}: {plan['path']}" + (f", batch job {plan['job_name']} of {plan['records']} records"
                                          if plan["path"] == "batch" else ""))
        return plan

    @task.branch
    def choose(plan: dict) -> str:
        return "submit_batch" if plan["path"] == "batch" else "analyze"

    @task
    def analyze(plan: dict) -> None:
        from datetime import date

        from findining_airflow.errors import fail_fast
        from findining_airflow.hooks.bedrock import feedback_analyzer
        from findining_airflow.runtime import platform
        from findining_mlops.feedback.bedrock import BedrockAnalyzer, publish_usage
        from findining_mlops.feedback.digest import analyze_day
        from findining_mlops.feedback.local import SENTIMENT_MODEL, live_model

        day = date.fromisoformat(plan["day"])
        with fail_fast():
            analyzer = feedback_analyzer()
            records = analyze_day(platform(), day, analyzer, live_model(platform(), SENTIMENT_MODEL)[0])
        if isinstance(analyzer, BedrockAnalyzer):
            publish_usage(platform().metrics, analyzer, day)
        failed = sum(r["status"] != "analyzed" for r in records)
        print(f"{day}: {len(records)} negative feedback analyzed by {analyzer.name}, {failed} failed")

    @task
    def submit_batch(plan: dict) -> str:
        from findining_airflow.hooks.bedrock import bedrock_hook
        from findining_mlops.feedback.batch import submit_batch_job

        job_arn = submit_batch_job(bedrock_hook(plan).conn, plan, plan["role_arn"], plan["model_id"])
        print(f"batch job {plan['job_name']}: {job_arn}")
        return job_arn

    # a batch job takes hours: reschedule mode holds no worker slot between looks
    @task.sensor(poke_interval=300, timeout=24 * 3600, mode="reschedule")
    def wait_for_batch(plan: dict, job_arn: str):
        from airflow.sdk import PokeReturnValue
        from airflow.sdk.exceptions import AirflowFailException

        from findining_airflow.hooks.bedrock import bedrock_hook
        from findining_mlops.feedback.batch import JOB_DONE, JOB_FAILED, batch_job_status

        status, message = batch_job_status(bedrock_hook(plan).conn, job_arn)
        if status in JOB_FAILED:
            raise AirflowFailException(f"Bedrock batch job {job_arn} ended {status}: {message}")
        print(f"batch job {plan['job_name']}: {status}")
        return PokeReturnValue(is_done=status in JOB_DONE)

    @task
    def collect_batch(plan: dict) -> None:
        from datetime import date

        from findining_airflow.runtime import platform
        from findining_mlops.feedback.batch import collect_batch
        from findining_mlops.feedback.digest import write_analyses

        day = date.fromisoformat(plan["day"])
        results, restaurants = collect_batch(platform().store, day, plan["job_name"])
        records = write_analyses(platform(), day, results, restaurants)
        print(f"{day}: batch job {plan['job_name']}: {len(records)} results, "
              f"{sum(r['status'] != 'analyzed' for r in records)} failed")

    @task(multiple_outputs=False, trigger_rule="none_failed_min_one_success")
    def digest(plan: dict) -> dict:
        from datetime import date

        from findining_airflow.runtime import platform
        from findining_mlops.feedback.digest import build_digest, read_analyses, write_digest

        day = date.fromisoformat(plan["day"])
        summary = build_digest(platform(), day, read_analyses(platform(), day))
        for key in write_digest(platform(), day, summary):
            print(f"wrote {key}")
        return {"day": plan["day"], "spikes": summary["spikes"], "restaurants": {
            s["restaurant_id"]: summary["restaurants"][s["restaurant_id"]] for s in summary["spikes"]}}

    @task
    def alert(summary: dict) -> list[str]:
        from findining_airflow.runtime import platform
        from findining_mlops.feedback.digest import alert_spikes

        alerted = alert_spikes(platform(), summary)
        print(f"{summary['day']}: {len(summary['spikes'])} spike(s), alerted now: {alerted or 'none'}")
        return alerted

    planned = prepare()
    analyzed = analyze(planned)
    submitted = submit_batch(planned)
    collected = collect_batch(planned)
    choose(planned) >> [analyzed, submitted]
    wait_for_batch(planned, submitted) >> collected
    summary = digest(planned)
    [analyzed, collected] >> summary
    alert(summary)


negative_feedback_digest()
