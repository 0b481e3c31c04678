"""The negative-feedback digest's tasks: which path a day takes (the local models, one Bedrock
call per feedback, or a Bedrock batch job), the analyses, the day's digest and its alerts."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, NotRequired, TypedDict

from findining_airflow.errors import fail_fast
from findining_airflow.hooks.bedrock import bedrock_hook, bedrock_settings, feedback_analyzer
from findining_airflow.runtime import platform, settings

if TYPE_CHECKING:
    from findining_mlops.feedback.digest import AnalysisRecord, RestaurantDigest, Spike

log = logging.getLogger(__name__)
LOCAL, CONVERSE, BATCH = "local", "converse", "batch"


class DayPlan(TypedDict):
    """The path a day takes and, for a batch, the prepared job (``feedback.batch.BatchJob``) and where it runs."""

    day: str  # ISO date
    path: str  # LOCAL, CONVERSE or BATCH
    job_name: NotRequired[str]
    input_uri: NotRequired[str]
    output_uri: NotRequired[str]
    records: NotRequired[int]
    role_arn: NotRequired[str]
    model_id: NotRequired[str]
    aws_conn_id: NotRequired[str]
    region: NotRequired[str]


class SpikeAlerts(TypedDict):
    """What the day's spike alerts need of its digest: the spikes and their restaurants."""

    day: str  # ISO date
    spikes: list[Spike]
    restaurants: dict[str, RestaurantDigest]  # by restaurant id


def plan_day(day: date) -> DayPlan:
    """The path the day takes (``_plan``), as the digest's first task logs it."""
    with fail_fast():
        plan = _plan(day)
    log.info("%s: %s%s", day, plan["path"],
             f", batch job {plan['job_name']} of {plan['records']} records" if plan["path"] == BATCH else "")
    return plan


def _plan(day: date) -> DayPlan:
    """``local``: the local models; ``converse``: one Bedrock call per feedback; ``batch``: a
    Bedrock batch job, when a batch role is configured and the day has Bedrock's minimum of
    records (its input is written here)."""
    from findining_mlops.feedback.batch import BATCH_MINIMUM_RECORDS, prepare_batch
    from findining_mlops.feedback.digest import negative_feedback
    from findining_mlops.feedback.local import SENTIMENT_MODEL, live_model

    config = settings()
    plan: DayPlan = {"day": day.isoformat(), "path": LOCAL}
    if config.backend != "aws":
        return plan
    bedrock = bedrock_settings()
    plan["path"] = CONVERSE
    if not bedrock.batch_role_arn:
        return plan
    rows = negative_feedback(platform(), day, live_model(platform(), SENTIMENT_MODEL)[0])
    if len(rows) < BATCH_MINIMUM_RECORDS:
        return plan
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return {**plan, "path": BATCH, **prepare_batch(platform().store, day, rows, bedrock, stamp),
            "role_arn": bedrock.batch_role_arn, "model_id": bedrock.model_id, "aws_conn_id": config.aws.conn_id,
            "region": config.aws.region}


def failures(records: list[AnalysisRecord]) -> int:
    """How many of the day's analyses failed (refused, unparseable, an error)."""
    from findining_mlops.feedback.results import ANALYZED

    return sum(r["status"] != ANALYZED for r in records)


def analyze_negative_feedback(day: date) -> list[AnalysisRecord]:
    """The day's negative feedback, analyzed one by one by the configured analyzer; Bedrock's
    token usage is published to CloudWatch."""
    from findining_mlops.feedback.bedrock import BedrockAnalyzer, publish_usage
    from findining_mlops.feedback.digest import analyze_day
    from findining_mlops.feedback.local import SENTIMENT_MODEL, live_model

    with fail_fast():
        analyzer = feedback_analyzer()
        records = analyze_day(platform(), day, analyzer, live_model(platform(), SENTIMENT_MODEL)[0])
    if isinstance(analyzer, BedrockAnalyzer):
        publish_usage(platform().metrics, analyzer, day)
    log.info("%s: %d negative feedback analyzed by %s, %d failed", day, len(records), analyzer.name,
             failures(records))
    return records


def submit_batch(plan: DayPlan) -> str:
    """Submits the plan's batch inference job; returns its ARN."""
    from findining_mlops.feedback.batch import submit_batch_job

    job_arn = submit_batch_job(bedrock_hook(plan).conn, plan, plan["role_arn"], plan["model_id"])
    log.info("batch job %s: %s", plan["job_name"], job_arn)
    return job_arn


def batch_finished(plan: DayPlan, job_arn: str) -> bool:
    """Whether the batch job is done; one that failed, stopped or expired fails the task at once."""
    from airflow.sdk.exceptions import AirflowFailException

    from findining_mlops.feedback.batch import JOB_DONE, JOB_FAILED, batch_job_status

    status, message = batch_job_status(bedrock_hook(plan).conn, job_arn)
    if status in JOB_FAILED:
        raise AirflowFailException(f"Bedrock batch job {job_arn} ended {status}: {message}")
    log.info("batch job %s: %s", plan["job_name"], status)
    return status in JOB_DONE


def collect_batch(plan: DayPlan) -> list[AnalysisRecord]:
    """The batch job's results, written as the day's analyses."""
    from findining_mlops.feedback import batch
    from findining_mlops.feedback.digest import write_analyses

    day = date.fromisoformat(plan["day"])
    results, restaurants = batch.collect_batch(platform().store, day, plan["job_name"])
    records = write_analyses(platform(), day, results, restaurants)
    log.info("%s: batch job %s: %d results, %d failed", day, plan["job_name"], len(records), failures(records))
    return records


def digest_day(day: date) -> SpikeAlerts:
    """Writes the day's digest; returns what its alerts need: the spikes and their restaurants."""
    from findining_mlops.feedback.digest import build_digest, read_analyses, write_digest

    summary = build_digest(platform(), day, read_analyses(platform(), day))
    for key in write_digest(platform(), day, summary):
        log.info("wrote %s", key)
    return {"day": day.isoformat(), "spikes": summary["spikes"], "restaurants": {
        s["restaurant_id"]: summary["restaurants"][s["restaurant_id"]] for s in summary["spikes"]}}


def alert_spikes(summary: SpikeAlerts) -> list[str]:
    """One alert per spiking restaurant, once per day; returns the restaurants alerted now."""
    from findining_mlops.feedback import digest

    alerted = digest.alert_spikes(platform(), summary)
    log.info("%s: %d spike(s), alerted now: %s", summary["day"], len(summary["spikes"]), alerted or "none")
    return alerted
