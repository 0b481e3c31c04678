"""The stack's side of the negative-feedback digest on Bedrock (infra/terraform/bedrock.tf): the
policies invoke exactly the configured models, inference profiles and guardrail; the batch job
runs as a role only Bedrock can assume, for this account's jobs; the S3 prefixes and the metrics
namespace are the ones the feedback code uses; the outputs feed the settings it reads."""

from __future__ import annotations

from datetime import date
from fnmatch import fnmatchcase

import pytest
from terraform_stack import (
    StackValues,
    blocks,
    evaluate,
    literal,
    policy_statements,
    render_policy,
    tfvars,
    violated_preconditions,
)

ACCOUNT, REGION = "123456789012", "eu-west-1"
BUCKET_ARN = "arn:aws:s3:::ai-restaurant-recommendation-production-ml-123456789012"
GIVEN = {  # what data sources and resources are in one account
    "local.partition": "aws", "local.region": REGION, "local.account_id": ACCOUNT, "local.bucket_arn": BUCKET_ARN,
    "aws_kms_key.ml.arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
    "aws_iam_role.bedrock_batch.arn":
        f"arn:aws:iam::{ACCOUNT}:role/ai-restaurant-recommendation-production-bedrock-batch-role",
}
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"
CONFIGURED = {"bedrock_model_ids": [HAIKU],
              "bedrock_inference_profiles": {f"eu.{SONNET}": ["eu-central-1", "eu-west-1", "eu-west-3"]},
              "bedrock_guardrail_id": "a1b2c3d4e5f6", "bedrock_guardrail_version": "3"}
# what those variables must allow, written out
INVOKABLE = {
    f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU}",
    f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/eu.{SONNET}",
    f"arn:aws:bedrock:eu-central-1::foundation-model/{SONNET}",
    f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET}",
    f"arn:aws:bedrock:eu-west-3::foundation-model/{SONNET}",
}


def _statements(document: str, variables: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in render_policy(document, StackValues(GIVEN, variables))["Statement"]}


def _allowing(statements: dict[str, dict], action: str) -> set[str]:
    return {arn for s in statements.values() if action in s["Action"] for arn in s["Resource"]}


@pytest.mark.parametrize("document", ["bedrock_access", "bedrock_batch"])
def test_both_policies_invoke_only_the_configured_models_and_profiles_in_the_regions_profiles_route_to(document):
    statements = _statements(document, CONFIGURED)
    assert _allowing(statements, "bedrock:InvokeModel") == INVOKABLE
    assert not any("*" in arn for arn in _allowing(statements, "bedrock:InvokeModel"))


def test_without_a_profile_only_the_models_in_the_region():
    statements = _statements("bedrock_access", {"bedrock_model_ids": [HAIKU, SONNET]})
    assert _allowing(statements, "bedrock:InvokeModel") == {
        f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU}", f"arn:aws:bedrock:{REGION}::foundation-model/{SONNET}"}


def test_the_guardrail_is_applied_only_when_set_and_only_that_one():
    assert _allowing(_statements("bedrock_access", CONFIGURED), "bedrock:ApplyGuardrail") == {
        f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/a1b2c3d4e5f6"}
    assert "bedrock:ApplyGuardrail" not in str(_statements("bedrock_access", {}))


def test_a_guardrail_id_without_its_version_or_the_reverse_is_refused():
    policy = "aws_iam_policy.bedrock_access"
    assert violated_preconditions(policy, {"bedrock_guardrail_id": "a1b2c3d4e5f6", "bedrock_guardrail_version": ""})
    assert violated_preconditions(policy, {"bedrock_guardrail_id": "", "bedrock_guardrail_version": "1"})
    assert violated_preconditions(policy, {"bedrock_guardrail_id": "a1b2c3d4e5f6",
                                           "bedrock_guardrail_version": "1"}) == []
    assert violated_preconditions(policy, {"bedrock_guardrail_id": "", "bedrock_guardrail_version": ""}) == []


def test_batch_jobs_are_this_account_s_and_run_the_configured_models():
    statements = _statements("bedrock_access", CONFIGURED)
    jobs = statements["BatchInferenceJobs"]
    assert set(jobs["Action"]) == {"bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob"}
    assert set(jobs["Resource"]) == INVOKABLE | {f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/*"}
    passing = statements["PassTheBatchRoleToBedrockOnly"]
    assert passing["Resource"] == [GIVEN["aws_iam_role.bedrock_batch.arn"]]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": ["bedrock.amazonaws.com"]}}


def test_token_usage_goes_to_the_namespace_the_code_publishes_to_only():
    from findining_mlops.feedback.bedrock import METRICS_NAMESPACE

    [usage] = [s for s in _statements("bedrock_access", {}).values() if "cloudwatch:PutMetricData" in s["Action"]]
    assert usage["Action"] == ["cloudwatch:PutMetricData"]
    assert usage["Condition"] == {"StringEquals": {"cloudwatch:namespace": [METRICS_NAMESPACE]}}


def test_the_access_policy_reaches_only_the_batch_files_and_the_digest_where_the_code_keeps_them():
    from findining_mlops.store.layout import feedback_batch_prefix, feedback_digest_prefix

    statements = _statements("bedrock_access", {})
    objects = _allowing(statements, "s3:PutObject")
    assert objects == _allowing(statements, "s3:GetObject") == {
        f"{BUCKET_ARN}/feedback/batch/*", f"{BUCKET_ARN}/reports/feedback/*"}
    batch, digest = feedback_batch_prefix(date(2026, 10, 1), "job"), feedback_digest_prefix(date(2026, 10, 1))
    for key in (batch + "input/records.jsonl", batch + "plan.json", digest + "digest.json", digest + "analyses.jsonl"):
        assert any(fnmatchcase(f"{BUCKET_ARN}/{key}", pattern) for pattern in objects), key
    for key in ("models/sentiment/1/model.tar.gz", "data/feedback/dt=2026-10-01/part-0.parquet",
                "reports/drift/x.json"):
        assert not any(fnmatchcase(f"{BUCKET_ARN}/{key}", pattern) for pattern in objects), key


def test_the_batch_role_reads_a_job_s_input_and_writes_its_output_only():
    from findining_mlops.store.layout import feedback_batch_prefix

    statements = _statements("bedrock_batch", CONFIGURED)
    job = feedback_batch_prefix(date(2026, 10, 1), "findining-feedback-20261001-20261002T010000")
    readable, writable = _allowing(statements, "s3:GetObject"), _allowing(statements, "s3:PutObject")
    assert any(fnmatchcase(f"{BUCKET_ARN}/{job}input/records.jsonl", p) for p in readable)
    assert any(fnmatchcase(f"{BUCKET_ARN}/{job}output/job-id/records.jsonl.out", p) for p in writable)
    assert not any(fnmatchcase(f"{BUCKET_ARN}/{job}output/x.jsonl.out", p) for p in readable)
    assert not any(fnmatchcase(f"{BUCKET_ARN}/{job}input/records.jsonl", p) for p in writable)
    assert not any(fnmatchcase(f"{BUCKET_ARN}/{job}plan.json", p) for p in readable | writable)
    assert statements["ListTheJobsFolders"]["Condition"] == {"StringLike": {"s3:prefix": ["feedback/batch/*"]}}
    assert statements["UseTheKeyThroughS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": [f"s3.{REGION}.amazonaws.com"]}}
    assert not {"bedrock:ApplyGuardrail", "iam:PassRole", "cloudwatch:PutMetricData"} & {
        a for s in statements.values() for a in s["Action"]}


def test_only_bedrock_may_assume_the_batch_role_for_this_account_s_jobs():
    [statement] = policy_statements("bedrock_batch_trust")
    [principal] = statement["principals"]
    assert literal(principal["type"]) == "Service" and literal(principal["identifiers"]) == ["bedrock.amazonaws.com"]
    conditions = {literal(c["variable"]): (literal(c["test"]), literal(c["values"])) for c in statement["condition"]}
    assert conditions == {
        "aws:SourceAccount": ("StringEquals", ["${local.account_id}"]),
        "aws:SourceArn": ("ArnLike", ["${local.bedrock_arn}:model-invocation-job/*"]),
    }
    given = {k.removeprefix("local."): v for k, v in GIVEN.items() if k.startswith("local.")}
    assert evaluate("${local.bedrock_arn}", {}, given) == f"arn:aws:bedrock:{REGION}:{ACCOUNT}"


def test_the_management_role_carries_the_bedrock_policy_the_digest_s_tasks_need():
    """The tasks call Bedrock through the Airflow connection, as the MWAA execution role."""
    attachments = blocks("resource")["aws_iam_role_policy_attachment.ml_management"]
    assert "aws_iam_policy.bedrock_access.arn" in str(attachments["for_each"])
    key_users = str(blocks("data")["aws_iam_policy_document.ml_key"]["statement"])
    assert "aws_iam_role.bedrock_batch.arn" in key_users and "aws_iam_role.bedrock_access.arn" in key_users


@pytest.mark.parametrize("variables,model_id", [
    ({}, HAIKU),
    ({"bedrock_model_ids": [SONNET, HAIKU]}, SONNET),
    (CONFIGURED, f"eu.{SONNET}"),
])
def test_the_model_the_analyses_call_is_the_first_profile_else_the_first_model(variables, model_id):
    assert evaluate(blocks("output")["bedrock_model_id"]["value"], variables) == model_id


@pytest.mark.parametrize("environment", ["dev", "staging", "production"])
def test_each_environment_s_model_id_is_one_its_policies_allow(environment):
    from findining_mlops.config.settings import BedrockSettings

    variables = {k: v for k, v in tfvars(environment).items() if k.startswith("bedrock_")}
    model_id = evaluate(blocks("output")["bedrock_model_id"]["value"], variables)
    settings = BedrockSettings.from_env({"FINDINING_BEDROCK_MODEL_ID": model_id,
                                         "FINDINING_BEDROCK_GUARDRAIL_ID": variables.get("bedrock_guardrail_id", ""),
                                         "FINDINING_BEDROCK_GUARDRAIL_VERSION":
                                             variables.get("bedrock_guardrail_version", "")})
    invokable = _allowing(_statements("bedrock_access", variables), "bedrock:InvokeModel")
    assert any(arn.endswith("/" + settings.model_id) for arn in invokable), (environment, model_id)
    guardrail = {name: variables.get(name, "") for name in ("bedrock_guardrail_id", "bedrock_guardrail_version")}
    assert violated_preconditions("aws_iam_policy.bedrock_access", guardrail) == []
