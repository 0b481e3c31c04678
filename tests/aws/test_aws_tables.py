"""The DynamoDB tables of the aws backend are the ones it uses: each table ``create_tables`` makes (and the
Terraform stack makes the same, with the same keys) holds items once an A/B test runs; A/B events are parquet
batches on S3, not items."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
from aws_stack import REGION

from findining_mlops.config.catalog import RESOURCE_PREFIX

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))  # the HCL reader lives with the infra tests
from terraform_stack import blocks, literal  # noqa: E402


def test_every_table_of_the_backend_holds_items_once_an_ab_test_runs(aws, account):
    from findining_mlops.platform.aws.dynamodb import key_schemas
    from findining_mlops.platform.ports import ABTest, MetricEvent

    aws.abtests.create(ABTest(
        test_id="ab-1", test_name="t", model_name="sentiment", endpoint="e", control_version=1, treatment_version=2,
        control_variant="sentiment-v1", treatment_variant="sentiment-v2", traffic_split=50, duration_days=7,
        success_metrics={"engaged": {"kind": "binary", "direction": "increase"}}, guardrail_metrics={}, alpha=0.05,
        started_at="2026-10-06"))
    when = datetime(2026, 10, 6, tzinfo=UTC)
    aws.abtests.record([MetricEvent(f"e{n}", "ab-1", f"u{n}", "control", "engaged", 1.0, when, {}) for n in range(3)])

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    empty = [table for table in key_schemas(account) if not dynamodb.scan(TableName=table, Limit=1)["Items"]]
    assert empty == [], f"tables the backend never writes: {empty}"


def test_the_stack_creates_the_backend_s_tables_with_their_keys():
    from findining_mlops.config.settings import AwsSettings
    from findining_mlops.platform.aws.dynamodb import key_schemas

    defaults = AwsSettings(region=REGION, bucket="b", training_role_arn="r", serving_role_arn="r", alerts_topic_arn="t",
                           subnet_ids=("subnet-0abc1234",), security_group_ids=("sg-0123abcd",), kms_key_arn="k")
    code = {name.removeprefix(RESOURCE_PREFIX): keys for name, keys in key_schemas(defaults).items()}
    stack = {literal(table["name"]).removeprefix("${local.name}"): [(literal(k["name"]), literal(k["type"]))
                                                                      for k in table["keys"]]
             for table in literal(blocks("locals")["tables"]).values()}
    assert stack == code
