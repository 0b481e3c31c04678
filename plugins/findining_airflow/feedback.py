"""The feedback analyser of the configured backend, built the Airflow way on ``aws``: the
boto3 session comes from the Airflow connection through the provider's ``BedrockRuntimeHook``
(keys, assumed role, profile), and the domain code makes its own ``bedrock-runtime`` client
from it with adaptive retries and a time-out."""

from __future__ import annotations

import os


def feedback_analyser():
    from findining_airflow.runtime import platform, settings

    config = settings()
    if config.backend != "aws":
        from findining_mlops.feedback.local import LocalAnalyser

        return LocalAnalyser.from_platform(platform())
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook

    from findining_mlops.feedback.bedrock import BedrockAnalyser, BedrockSettings, bedrock_runtime_client

    bedrock = BedrockSettings.from_env(os.environ, region=config.aws.region)
    hook = BedrockRuntimeHook(aws_conn_id=config.aws.conn_id, region_name=config.aws.region)
    return BedrockAnalyser(bedrock_runtime_client(hook.get_session(region_name=config.aws.region), bedrock), bedrock)
