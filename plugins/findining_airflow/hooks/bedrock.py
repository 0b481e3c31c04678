"""Bedrock's hooks for the negative-feedback digest. On ``aws`` the boto3 session comes from the
Airflow connection through the provider's ``BedrockRuntimeHook`` (keys, assumed role, profile), and
the domain code makes its own ``bedrock-runtime`` client from it with adaptive retries and a
time-out. Bedrock's settings are env vars or Variables (``findining_bedrock_model_id``, ...)."""

from __future__ import annotations

import os

from findining_airflow.runtime import platform, settings


def bedrock_settings():
    from airflow.sdk import Variable

    from findining_mlops.config.settings import BEDROCK_SETTINGS, BedrockSettings

    env = {name: Variable.get(name.lower(), default=None) or os.environ.get(name, "") for name in BEDROCK_SETTINGS}
    return BedrockSettings.from_env(env, region=settings().aws.region)


def bedrock_hook(plan: dict):
    """The provider's hook for the ``bedrock`` control plane (batch jobs), on the plan's connection."""
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

    return BedrockHook(aws_conn_id=plan["aws_conn_id"], region_name=plan["region"])


def feedback_analyzer():
    config = settings()
    if config.backend != "aws":
        from findining_mlops.feedback.local import LocalAnalyzer

        return LocalAnalyzer.from_platform(platform())
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook

    from findining_mlops.feedback.bedrock import BedrockAnalyzer, bedrock_runtime_client

    bedrock = bedrock_settings()
    hook = BedrockRuntimeHook(aws_conn_id=config.aws.conn_id, region_name=config.aws.region)
    return BedrockAnalyzer(bedrock_runtime_client(hook.get_session(region_name=config.aws.region), bedrock), bedrock)
