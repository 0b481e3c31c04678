"""The negative-feedback digest's Airflow side: which path a day takes, and the analyzer of
the configured backend. On ``aws`` the boto3 session comes from the Airflow connection
through the provider's ``BedrockRuntimeHook`` (keys, assumed role, profile), and the
domain code makes its own ``bedrock-runtime`` client from it with adaptive retries and a
time-out. Bedrock's settings are env vars or Variables (``findining_bedrock_model_id``, ...)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

LOCAL, CONVERSE, BATCH = "local", "converse", "batch"


def bedrock_settings():
    from airflow.sdk import Variable

    from findining_airflow.runtime import settings
    from findining_mlops.feedback.bedrock import BEDROCK_SETTINGS, BedrockSettings

    env = {name: Variable.get(name.lower(), default=None) or os.environ.get(name, "") for name in BEDROCK_SETTINGS}
    return BedrockSettings.from_env(env, region=settings().aws.region)


def plan_day(day: date) -> dict:
    """``local``: the local models; ``converse``: one Bedrock call per feedback; ``batch``: a
    Bedrock batch job, when a batch role is configured and the day has Bedrock's minimum of
    records (its input is written here)."""
    from findining_airflow.runtime import platform, settings
    from findining_mlops.feedback.batch import BATCH_MINIMUM_RECORDS, prepare_batch
    from findining_mlops.feedback.digest import negative_feedback
    from findining_mlops.feedback.local import SENTIMENT_MODEL, live_model

    config = settings()
    plan = {"day": day.isoformat(), "path": LOCAL}
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


def bedrock_hook(plan: dict):
    """The provider's hook for the ``bedrock`` control plane (batch jobs), on the plan's connection."""
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

    return BedrockHook(aws_conn_id=plan["aws_conn_id"], region_name=plan["region"])


def feedback_analyzer():
    from findining_airflow.runtime import platform, settings

    config = settings()
    if config.backend != "aws":
        from findining_mlops.feedback.local import LocalAnalyzer

        return LocalAnalyzer.from_platform(platform())
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook

    from findining_mlops.feedback.bedrock import BedrockAnalyzer, bedrock_runtime_client

    bedrock = bedrock_settings()
    hook = BedrockRuntimeHook(aws_conn_id=config.aws.conn_id, region_name=config.aws.region)
    return BedrockAnalyzer(bedrock_runtime_client(hook.get_session(region_name=config.aws.region), bedrock), bedrock)
