"""
### Negative feedback digest

Every day: why diners complained, per restaurant — the seed's `bedrock-nlp-processor`.

For the run's logical date:

1. **analyse**: the day's feedback (`data/feedback/dt=<date>/`) that the live sentiment
   model scores negative, each redacted of personal data and analysed into the
   feedback-analysis JSON Schema (aspects with severity and evidence, summary, suggested
   reply, needs-attention) — by Amazon Bedrock's Converse API on `aws` (model id and
   guardrail from `FINDINING_BEDROCK_*`; token usage to CloudWatch `FindDining/FeedbackAnalysis`),
   by the live aspect and sentiment models on `local` → `reports/feedback/dt=<date>/analyses.jsonl`;
2. **digest**: counts per aspect, severities and example summaries per restaurant, and
   the restaurants whose hygiene or safety complaints spike against their own last 28
   days → `digest.json` and `digest.html`;
3. **alert**: one alert per spiking restaurant, once per day however often it re-runs.

Backfill past days in date order (`max_active_runs=1`): each day's spikes are judged
against the digests before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from findining_airflow.notifications import alert_on_dag_failure, alert_on_dag_success, default_args


@dag(
    dag_id="negative_feedback_digest",
    schedule="@daily",
    start_date=datetime(2026, 10, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["findining", "feedback", "bedrock"],
    default_args=default_args(),
    on_failure_callback=alert_on_dag_failure,
    on_success_callback=alert_on_dag_success,
)
def negative_feedback_digest():
    @task
    def analyse(data_interval_start=None, dag_run=None) -> str:
        from findining_airflow.errors import fail_fast
        from findining_airflow.feedback import feedback_analyser
        from findining_airflow.runtime import platform
        from findining_mlops.feedback.bedrock import BedrockAnalyser, publish_usage
        from findining_mlops.feedback.digest import analyse_day
        from findining_mlops.feedback.local import SENTIMENT_MODEL, live_model

        # a run triggered by hand without a logical date digests the day before it
        day = (data_interval_start or dag_run.run_after - timedelta(days=1)).date()
        with fail_fast():
            sentiment, _ = live_model(platform(), SENTIMENT_MODEL)
            analyser = feedback_analyser()
            records = analyse_day(platform(), day, analyser, sentiment)
        if isinstance(analyser, BedrockAnalyser):
            publish_usage(platform().metrics, analyser, day)
        failed = sum(r["status"] != "analysed" for r in records)
        print(f"{day}: {len(records)} negative feedback analysed by {analyser.name}, {failed} failed")
        return day.isoformat()

    @task
    def digest(day: str) -> dict:
        from datetime import date

        from findining_airflow.runtime import platform
        from findining_mlops.feedback.digest import build_digest, read_analyses, write_digest

        summary = build_digest(platform(), date.fromisoformat(day), read_analyses(platform(), date.fromisoformat(day)))
        for key in write_digest(platform(), date.fromisoformat(day), summary):
            print(f"wrote {key}")
        return {"day": day, "spikes": summary["spikes"], "restaurants": {
            s["restaurant_id"]: summary["restaurants"][s["restaurant_id"]] for s in summary["spikes"]}}

    @task
    def alert(summary: dict) -> list[str]:
        from findining_airflow.runtime import platform
        from findining_mlops.feedback.digest import alert_spikes

        alerted = alert_spikes(platform(), summary)
        print(f"{summary['day']}: {len(summary['spikes'])} spike(s), alerted now: {alerted or 'none'}")
        return alerted

    alert(digest(analyse()))


negative_feedback_digest()
