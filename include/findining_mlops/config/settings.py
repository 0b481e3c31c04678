"""Runtime settings, read from the environment so no DAG is edited to switch backends.

Airflow Variables reach the same names through the plugin layer (``findining_airflow.runtime``
maps the lowercase Variable ``findining_bucket`` to ``FINDINING_BUCKET``, and so on); this
module stays free of Airflow. The AWS settings are read and checked only when the backend is
``aws``; each check names the setting, so a bad value fails the first task with its name.
Their values are what the Terraform stack outputs (see docs/aws.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from findining_mlops.config.catalog import RESOURCE_PREFIX
from findining_mlops.errors import ConfigurationError

BACKENDS = ("local", "aws")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

# env var -> (Terraform output that provides it, default; None = required)
AWS_SETTINGS: dict[str, tuple[str, str | None]] = {
    "FINDINING_AWS_REGION": ("aws_region", None),
    "FINDINING_BUCKET": ("bucket", None),
    # training jobs and model checks run as one role, endpoints as another: each writes only its own prefixes
    "FINDINING_TRAINING_ROLE_ARN": ("training_role_arn", None),
    "FINDINING_SERVING_ROLE_ARN": ("serving_role_arn", None),
    "FINDINING_ALERTS_TOPIC_ARN": ("alerts_topic_arn", None),
    "FINDINING_AWS_CONN_ID": ("", "aws_default"),
    "FINDINING_TRAINING_INSTANCE_TYPE": ("training_instance_type", "ml.m5.large"),
    "FINDINING_TRAINING_VOLUME_GB": ("training_volume_gb", "30"),
    "FINDINING_TRAINING_MAX_RUNTIME_SECONDS": ("training_max_runtime_seconds", "7200"),
    "FINDINING_ENDPOINT_INSTANCE_TYPE": ("endpoint_instance_type", "ml.m5.large"),
    "FINDINING_ENDPOINT_INSTANCE_COUNT": ("endpoint_instance_count", "1"),
    "FINDINING_ENDPOINT_MIN_CAPACITY": ("endpoint_min_capacity", "1"),
    "FINDINING_ENDPOINT_MAX_CAPACITY": ("endpoint_max_capacity", "2"),
    "FINDINING_ENDPOINT_TARGET_INVOCATIONS": ("target_invocations_per_instance", "1000"),
    "FINDINING_CAPTURE_PERCENT": ("data_capture_percent", "100"),
    "FINDINING_SKLEARN_FRAMEWORK_VERSION": ("", "1.9-0"),
    # required: a job or endpoint never runs outside the private subnets or unencrypted
    "FINDINING_VPC_SUBNET_IDS": ("private_subnet_ids", None),
    "FINDINING_VPC_SECURITY_GROUP_IDS": ("sagemaker_security_group_ids", None),
    "FINDINING_KMS_KEY_ARN": ("kms_key_arn", None),
    "FINDINING_STATE_TABLE": ("state_table_name", "ai-restaurant-recommendation-mlops-state"),
    "FINDINING_ABTESTS_TABLE": ("ab_tests_table_name", "ai-restaurant-recommendation-ab-tests"),
    # the A/B analysis' engine: DuckDB in the task, or Athena over the events' Glue table (docs/aws.md)
    "FINDINING_AB_ENGINE": ("", "duckdb"),
    "FINDINING_ATHENA_DATABASE": ("athena_database_name", "findining_mlops"),
    "FINDINING_ATHENA_EVENTS_TABLE": ("ab_events_glue_table_name", "ab_test_events"),
    "FINDINING_ATHENA_WORKGROUP": ("athena_workgroup_name", "findining-mlops"),
}
# Names of this environment's resources, read by findining_mlops.config.catalog from the process
# environment only (never an Airflow Variable): env var -> (Terraform output, default)
NAME_SETTINGS: dict[str, tuple[str, str]] = {
    "FINDINING_RESOURCE_PREFIX": ("resource_prefix", RESOURCE_PREFIX),
}
AB_ENGINES = ("duckdb", "athena")
# settings of both backends that Airflow Variables may also set
COMMON_SETTINGS = ("FINDINING_BACKEND", "FINDINING_HOME", "FINDINING_DEFER_WAITS")

_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_INSTANCE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
_KMS = re.compile(r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+|alias/[\w/-]+|[0-9a-f-]{36})$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_GLUE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
_WORKGROUP = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class AwsSettings:
    """Where the pipeline runs on AWS: one region, one bucket, a role each for training and serving, one topic,
    the private subnets and the key every job, endpoint and object uses."""

    region: str
    bucket: str
    training_role_arn: str
    serving_role_arn: str
    alerts_topic_arn: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    kms_key_arn: str
    conn_id: str = "aws_default"
    training_instance_type: str = "ml.m5.large"
    training_volume_gb: int = 30
    training_max_runtime_s: int = 7200
    endpoint_instance_type: str = "ml.m5.large"
    endpoint_instance_count: int = 1
    # each variant's auto-scaling: target tracking on SageMakerVariantInvocationsPerInstance
    endpoint_min_capacity: int = 1
    endpoint_max_capacity: int = 2
    target_invocations_per_instance: int = 1000
    capture_percent: int = 100
    sklearn_framework_version: str = "1.9-0"
    state_table: str = "ai-restaurant-recommendation-mlops-state"
    abtests_table: str = "ai-restaurant-recommendation-ab-tests"
    ab_engine: str = "duckdb"
    athena_database: str = "findining_mlops"
    athena_events_table: str = "ab_test_events"
    athena_workgroup: str = "findining-mlops"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AwsSettings:
        """Each setting checked in turn, so the first bad one is the one named."""
        value = _aws_values(env)
        region = _region(value["FINDINING_AWS_REGION"])
        _check_resource_names(value, region)
        instances, low, high = _capacity(value)
        engine = _ab_engine(value)
        subnets = _ids("FINDINING_VPC_SUBNET_IDS", value["FINDINING_VPC_SUBNET_IDS"], "subnet-")
        groups = _ids("FINDINING_VPC_SECURITY_GROUP_IDS", value["FINDINING_VPC_SECURITY_GROUP_IDS"], "sg-")
        return cls(
            region=region,
            bucket=value["FINDINING_BUCKET"],
            training_role_arn=value["FINDINING_TRAINING_ROLE_ARN"],
            serving_role_arn=value["FINDINING_SERVING_ROLE_ARN"],
            alerts_topic_arn=value["FINDINING_ALERTS_TOPIC_ARN"],
            conn_id=value["FINDINING_AWS_CONN_ID"],
            training_instance_type=value["FINDINING_TRAINING_INSTANCE_TYPE"],
            training_volume_gb=_int("FINDINING_TRAINING_VOLUME_GB", value, 1, 16384),
            training_max_runtime_s=_int("FINDINING_TRAINING_MAX_RUNTIME_SECONDS", value, 60, 28 * 24 * 3600),
            endpoint_instance_type=value["FINDINING_ENDPOINT_INSTANCE_TYPE"],
            endpoint_instance_count=instances,
            endpoint_min_capacity=low,
            endpoint_max_capacity=high,
            target_invocations_per_instance=_int("FINDINING_ENDPOINT_TARGET_INVOCATIONS", value, 1, 1_000_000),
            capture_percent=_int("FINDINING_CAPTURE_PERCENT", value, 0, 100),
            sklearn_framework_version=value["FINDINING_SKLEARN_FRAMEWORK_VERSION"],
            subnet_ids=subnets,
            security_group_ids=groups,
            kms_key_arn=value["FINDINING_KMS_KEY_ARN"],
            state_table=value["FINDINING_STATE_TABLE"],
            abtests_table=value["FINDINING_ABTESTS_TABLE"],
            ab_engine=engine,
            athena_database=value["FINDINING_ATHENA_DATABASE"],
            athena_events_table=value["FINDINING_ATHENA_EVENTS_TABLE"],
            athena_workgroup=value["FINDINING_ATHENA_WORKGROUP"],
        )


@dataclass(frozen=True)
class Settings:
    backend: str
    home: Path
    aws: AwsSettings | None = None
    defer_waits: bool = False  # long waits (training) wait in the triggerer, not in a worker slot

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        backend = env.get("FINDINING_BACKEND", "local").strip().lower()
        if backend not in BACKENDS:
            raise ConfigurationError(
                f"FINDINING_BACKEND={backend!r} is not a backend; use one of {', '.join(BACKENDS)}"
            )
        home = Path(env.get("FINDINING_HOME", ".findining")).expanduser().resolve()
        aws = AwsSettings.from_env(env) if backend == "aws" else None
        defer = env.get("FINDINING_DEFER_WAITS", "").strip().lower()
        if defer and defer not in TRUE + FALSE:
            raise ConfigurationError(f"FINDINING_DEFER_WAITS={defer!r} is not a boolean (true/false)")
        return cls(backend=backend, home=home, aws=aws,
                   defer_waits=defer in TRUE if defer else backend == "aws")


# the negative-feedback digest's Bedrock settings, as env vars or Airflow Variables
# (findining_bedrock_model_id, ...): env var -> (the infra/terraform output that provides
# it, or "" when none does; default)
BEDROCK_SETTINGS: dict[str, tuple[str, str]] = {
    "FINDINING_BEDROCK_MODEL_ID": ("bedrock_model_id", "anthropic.claude-3-haiku-20240307-v1:0"),
    "FINDINING_BEDROCK_GUARDRAIL_ID": ("bedrock_guardrail_id", ""),
    "FINDINING_BEDROCK_GUARDRAIL_VERSION": ("bedrock_guardrail_version", ""),
    "FINDINING_BEDROCK_TIMEOUT_SECONDS": ("", "60"),
    "FINDINING_BEDROCK_MAX_ATTEMPTS": ("", "8"),
    # the role Bedrock assumes to read a batch job's input and write its output; without
    # it every day goes through Converse
    "FINDINING_BEDROCK_BATCH_ROLE_ARN": ("bedrock_batch_role_arn", ""),
}


@dataclass(frozen=True)
class BedrockSettings:
    """:param model_id: a model id or an inference profile id/ARN (cross-region allowed)."""

    model_id: str
    region: str | None = None
    guardrail_id: str = ""
    guardrail_version: str = ""
    timeout_s: int = 60
    max_attempts: int = 8  # botocore's adaptive retries on throttling and 5xx
    max_tokens: int = 1024
    batch_role_arn: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str], region: str | None = None) -> BedrockSettings:
        value = {name: env.get(name) or default for name, (_, default) in BEDROCK_SETTINGS.items()}
        if bool(value["FINDINING_BEDROCK_GUARDRAIL_ID"]) != bool(value["FINDINING_BEDROCK_GUARDRAIL_VERSION"]):
            raise ConfigurationError("FINDINING_BEDROCK_GUARDRAIL_ID and FINDINING_BEDROCK_GUARDRAIL_VERSION go "
                                     "together: set both (e.g. an id and DRAFT or 1) or neither")
        numbers = {}
        for name in ("FINDINING_BEDROCK_TIMEOUT_SECONDS", "FINDINING_BEDROCK_MAX_ATTEMPTS"):
            try:
                numbers[name] = int(value[name])
            except ValueError:
                raise ConfigurationError(f"{name}={value[name]!r} is not a whole number") from None
            if numbers[name] < 1:
                raise ConfigurationError(f"{name} must be at least 1, not {numbers[name]}")
        return cls(model_id=value["FINDINING_BEDROCK_MODEL_ID"], region=region,
                   guardrail_id=value["FINDINING_BEDROCK_GUARDRAIL_ID"],
                   guardrail_version=value["FINDINING_BEDROCK_GUARDRAIL_VERSION"],
                   timeout_s=numbers["FINDINING_BEDROCK_TIMEOUT_SECONDS"],
                   max_attempts=numbers["FINDINING_BEDROCK_MAX_ATTEMPTS"],
                   batch_role_arn=value["FINDINING_BEDROCK_BATCH_ROLE_ARN"])


def _aws_values(env: Mapping[str, str]) -> dict[str, str]:
    """Every AWS setting's value or its default; a required one missing is an error."""
    # the guide's AWS_REGION names the same thing; ours wins where both are set
    region = (env.get("FINDINING_AWS_REGION") or "").strip() or env.get("AWS_REGION", "")
    env = {**env, "FINDINING_AWS_REGION": region}
    value = {name: (env.get(name) or "").strip() or (default or "") for name, (_, default) in AWS_SETTINGS.items()}
    for name, (_, default) in AWS_SETTINGS.items():
        if default is None and not value[name]:
            raise ConfigurationError(f"{name} is not set; the aws backend needs it (Terraform output "
                                     f"{AWS_SETTINGS[name][0]!r}, or the Airflow Variable {name.lower()})")
    return value


def _check_resource_names(value: dict[str, str], region: str) -> None:
    _match("FINDINING_BUCKET", value["FINDINING_BUCKET"], _BUCKET,
           "an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens; no s3:// prefix)")
    for name, example in (("FINDINING_TRAINING_ROLE_ARN", "sagemaker-training-role"),
                          ("FINDINING_SERVING_ROLE_ARN", "sagemaker-serving-role")):
        _match(name, value[name], _ROLE_ARN, f"an IAM role ARN such as arn:aws:iam::123456789012:role/{example}")
    topic = _match("FINDINING_ALERTS_TOPIC_ARN", value["FINDINING_ALERTS_TOPIC_ARN"], _TOPIC_ARN,
                   "an SNS topic ARN such as "
                   "arn:aws:sns:eu-west-1:123456789012:ai-restaurant-recommendation-ml-alerts")
    if topic.group(1) != region:
        raise ConfigurationError(f"FINDINING_ALERTS_TOPIC_ARN is in {topic.group(1)}, not in FINDINING_AWS_REGION "
                                 f"{region}; SNS publishes to a topic of the client's region")
    for name in ("FINDINING_TRAINING_INSTANCE_TYPE", "FINDINING_ENDPOINT_INSTANCE_TYPE"):
        _match(name, value[name], _INSTANCE, "a SageMaker instance type such as ml.m5.large")
    _match("FINDINING_KMS_KEY_ARN", value["FINDINING_KMS_KEY_ARN"], _KMS, "a KMS key ARN, key id or alias")
    for name in ("FINDINING_STATE_TABLE", "FINDINING_ABTESTS_TABLE"):
        _match(name, value[name], _TABLE, "a DynamoDB table name")


def _capacity(value: dict[str, str]) -> tuple[int, int, int]:
    """A variant's instance count and its auto-scaling bounds, the count within them."""
    instances = _int("FINDINING_ENDPOINT_INSTANCE_COUNT", value, 1, 100)
    low = _int("FINDINING_ENDPOINT_MIN_CAPACITY", value, 1, 100)
    high = _int("FINDINING_ENDPOINT_MAX_CAPACITY", value, 1, 100)
    if high < low:
        raise ConfigurationError(f"FINDINING_ENDPOINT_MAX_CAPACITY={high} is below "
                                 f"FINDINING_ENDPOINT_MIN_CAPACITY={low}")
    if not low <= instances <= high:
        raise ConfigurationError(f"FINDINING_ENDPOINT_INSTANCE_COUNT={instances} is outside the auto-scaling "
                                 "bounds FINDINING_ENDPOINT_MIN_CAPACITY..FINDINING_ENDPOINT_MAX_CAPACITY "
                                 f"({low}..{high}): "
                                 "a new variant would be scaled at once to within them")
    return instances, low, high


def _ab_engine(value: dict[str, str]) -> str:
    """The A/B analysis' engine, with the Athena names it would query."""
    engine = value["FINDINING_AB_ENGINE"].lower()
    if engine not in AB_ENGINES:
        raise ConfigurationError(f"FINDINING_AB_ENGINE={engine!r} is not an A/B engine; use one of "
                                 f"{', '.join(AB_ENGINES)}")
    for name in ("FINDINING_ATHENA_DATABASE", "FINDINING_ATHENA_EVENTS_TABLE"):
        _match(name, value[name], _GLUE_NAME, "a Glue name (lowercase letters, digits and underscores)")
    _match("FINDINING_ATHENA_WORKGROUP", value["FINDINING_ATHENA_WORKGROUP"], _WORKGROUP,
           "an Athena workgroup name")
    return engine


def _match(name: str, value: str, pattern: re.Pattern, what: str) -> re.Match:
    match = pattern.match(value)
    if not match:
        raise ConfigurationError(f"{name}={value!r} is not {what}")
    return match


def _region(region: str) -> str:
    """A region where SageMaker runs, by botocore's own endpoint data (no network)."""
    import botocore.session

    session = botocore.session.get_session()
    known = {r for partition in session.get_available_partitions()
             for r in session.get_available_regions("sagemaker", partition_name=partition)}
    if region not in known:
        raise ConfigurationError(f"FINDINING_AWS_REGION={region!r} is not a region where SageMaker runs "
                                 f"(known to botocore: {', '.join(sorted(known)[:6])}, ...)")
    return region


def _int(name: str, value: dict[str, str], low: int, high: int) -> int:
    try:
        number = int(value[name])
    except ValueError:
        raise ConfigurationError(f"{name}={value[name]!r} is not a whole number") from None
    if not low <= number <= high:
        raise ConfigurationError(f"{name}={number} is outside {low}..{high}")
    return number


def _ids(name: str, text: str, prefix: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [i for i in ids if not re.fullmatch(rf"{prefix}[0-9a-f]{{8,17}}", i)]
    if bad:
        raise ConfigurationError(f"{name} holds {bad}, not comma-separated {prefix}... ids")
    if not ids:
        raise ConfigurationError(f"{name} names no {prefix}... id; the aws backend needs at least one")
    return ids
