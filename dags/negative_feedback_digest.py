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

from datetime import date

from airflow.sdk import PokeReturnValue, task

from findining_airflow import feedback_digest
from findining_airflow.authoring import daily_dag, run_day


@daily_dag("negative_feedback_digest", doc_md=__doc__, tags=["findining", "feedback", "bedrock"])
def negative_feedback_digest():
    @task(multiple_outputs=False)
    def prepare(data_interval_start=None, dag_run=None) -> dict:
        return feedback_digest.plan_day(run_day(dag_run, data_interval_start))

    @task.branch
    def choose(plan: dict) -> str:
        return "submit_batch" if plan["path"] == feedback_digest.BATCH else "analyze"

    @task
    def analyze(plan: dict) -> None:
        feedback_digest.analyze_negative_feedback(date.fromisoformat(plan["day"]))

    @task
    def submit_batch(plan: dict) -> str:
        return feedback_digest.submit_batch(plan)

    # a batch job takes hours: reschedule mode holds no worker slot between looks
    @task.sensor(poke_interval=300, timeout=24 * 3600, mode="reschedule")
    def wait_for_batch(plan: dict, job_arn: str) -> PokeReturnValue:
        return PokeReturnValue(is_done=feedback_digest.batch_finished(plan, job_arn))

    @task
    def collect_batch(plan: dict) -> None:
        feedback_digest.collect_batch(plan)

    @task(multiple_outputs=False, trigger_rule="none_failed_min_one_success")
    def digest(plan: dict) -> dict:
        return feedback_digest.digest_day(date.fromisoformat(plan["day"]))

    @task
    def alert(summary: dict) -> list[str]:
        return feedback_digest.alert_spikes(summary)

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
