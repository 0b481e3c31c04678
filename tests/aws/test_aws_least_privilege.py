"""Least privilege proven against the code: each role's policies, rendered from
infra/terraform's HCL, are attached to that role in moto with IAM enforcement on, and the
pipeline's aws calls run under the role's credentials. Every call of the role's job is
allowed; a call outside it is denied.

moto authorises S3 calls against the bucket and object ARNs, but every other call against
the resource "*" and with no condition context; so the policies go to moto with their S3
statements as written and, elsewhere, the actions kept, the resources widened to "*" and the
conditions dropped. Those ARNs and conditions are checked statically
(tests/infra/test_iam_scoping.py)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import requests
from aws_stack import (
    ACCOUNT,
    BUCKET,
    KEY_ARN,
    REGION,
    SECURITY_GROUPS,
    SERVING_ROLE_ARN,
    SUBNETS,
    TOPIC_ARN,
    TRAINING_ROLE_ARN,
)
from botocore.exceptions import ClientError
from moto.core import disable_iam_authentication, set_initial_no_auth_action_count
from sagemaker_emulation import runs_training_jobs, updates_endpoints
from simulation import bootstrap

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))  # the HCL reader lives with the infra tests
from moto_stack import answer_mwaa  # noqa: E402
from terraform_stack import StackValues, blocks, literal, render_policy  # noqa: E402

ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"
START = date(2026, 10, 1)
TABLES = ["ai-restaurant-recommendation-mlops-state", "ai-restaurant-recommendation-ab-tests"]
TABLE_ARNS = [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}" for t in TABLES]
# the settings' defaults, which tests/aws's account uses
GLUE_DATABASE, GLUE_TABLE, WORKGROUP = "findining_mlops", "ab_test_events", "findining-mlops"
# what each ${reference} of the HCL is in the moto account of tests/aws
REFERENCES = {
    "local.partition": "aws", "local.region": REGION, "local.account_id": ACCOUNT,
    "local.name": "ai-restaurant-recommendation-test", "local.mwaa_name": "ai-restaurant-recommendation-test-airflow",
    "local.bucket_arn": f"arn:aws:s3:::{BUCKET}", "local.objects_arn": f"arn:aws:s3:::{BUCKET}/*",
    "local.sm_arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}",
    "local.logs_arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group",
    "local.training_job_prefix": "findining-", "local.pipeline_metrics_namespace": "FindDining/ModelMonitoring",
    "local.dashboard_name": "ai-restaurant-recommendation-ml-monitoring-test",
    "local.table_arns": TABLE_ARNS,
    "concat(local.table_arns, [for arn in local.table_arns : \"${arn}/index/*\"])":
        TABLE_ARNS + [f"{a}/index/*" for a in TABLE_ARNS],
    "local.athena_results_prefix": "athena-results/",
    "local.glue_catalog_arn": f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog",
    "aws_glue_catalog_database.ab.arn": f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{GLUE_DATABASE}",
    "aws_glue_catalog_table.ab_events.arn": f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{GLUE_DATABASE}/{GLUE_TABLE}",
    "aws_athena_workgroup.ab.arn": f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{WORKGROUP}",
    "aws_kms_key.ml.arn": KEY_ARN, "aws_sns_topic.alerts.arn": TOPIC_ARN,
    "aws_iam_role.sagemaker_training.arn": TRAINING_ROLE_ARN, "aws_iam_role.sagemaker_serving.arn": SERVING_ROLE_ARN,
    "aws_iam_role.ml_management.arn": f"arn:aws:iam::{ACCOUNT}:role/ml-management-role",
    "aws_iam_role.bedrock_access.arn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-access-role",
    "aws_iam_role.bedrock_batch.arn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-batch-role",
    "aws_vpc.main.arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0a1b2c3d",
    "var.sklearn_image_account_id": "141502667606",
    '[for prefix in local.management_write_prefixes : "${local.bucket_arn}/${prefix}*"]':
        [f"arn:aws:s3:::{BUCKET}/{prefix}*" for prefix in literal(blocks("locals")["management_write_prefixes"])],
    "concat([for s in aws_subnet.private : s.arn], [aws_security_group.sagemaker.arn, "
    "\"arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*\"])":
        [f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-0a1b2c3d",
         f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-0a1b2c3d",
         f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/*"],
}  # the Bedrock locals (models, profiles, prefixes) are evaluated from the HCL at the variables' defaults
ROLE_POLICIES = {  # role -> the policy documents attached to it (iam.tf)
    "sagemaker-training-role": ["sagemaker_runtime", "sagemaker_training"],
    "sagemaker-serving-role": ["sagemaker_runtime", "sagemaker_serving"],
    "ml-management-role": ["mwaa_runtime", "ml_management", "bedrock_access"],
    "bedrock-access-role": ["bedrock_access"],
    "bedrock-batch-role": ["bedrock_batch"],
    "ml-monitoring-role": ["ml_monitoring"],
}


# moto names some calls by their API operation where IAM authorises them with another action
MOTO_ACTION_NAMES = {
    "s3:ListBucket": ["s3:HeadBucket"],  # HeadBucket needs s3:ListBucket on AWS
    # TransactWriteItems needs the item actions it carries (Put, Update, Delete, ConditionCheck)
    "dynamodb:ConditionCheckItem": ["dynamodb:TransactWriteItems"],
}
MOTO_SERVICE_PREFIXES = {"cloudwatch": "monitoring"}  # moto prefixes CloudWatch's actions with its endpoint name


def moto_names(action: str) -> list[str]:
    service, _, name = action.partition(":")
    aliases = MOTO_ACTION_NAMES.get(action, [])
    return aliases + ([f"{MOTO_SERVICE_PREFIXES[service]}:{name}"] if service in MOTO_SERVICE_PREFIXES else [])


def for_moto(policy: dict) -> dict:
    """What moto can judge of ``policy`` (see the module docstring)."""
    statements = []
    for statement in policy["Statement"]:
        statement = {k: v for k, v in statement.items() if k != "Condition"}
        statement["Action"] = statement["Action"] + [alias for action in statement["Action"]
                                                     for alias in moto_names(action)]
        if not all(action.startswith("s3:") for action in statement["Action"]):
            statement["Resource"] = "*"
        statements.append(statement)
    return {**policy, "Statement": statements}


def assume(role: str, monkeypatch) -> None:
    """Creates ``role`` with its rendered policies and makes its session the process's credentials."""
    iam = boto3.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    name = f"{role}-under-test"  # the tests' stack already names the SageMaker roles
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    for document in ROLE_POLICIES[role]:
        arn = iam.create_policy(
            PolicyName=f"{name}-{document}",
            PolicyDocument=json.dumps(for_moto(render_policy(document, StackValues(REFERENCES, {})))),
        )["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="least-privilege")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    # boto3's default session keeps the credentials it resolved first: a new one for the role,
    # the old one back after the test
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def denied(call) -> bool:
    """True when IAM refuses the call (moto answers JSON-protocol services with a bare 403)."""
    try:
        call()
    except ClientError as exc:
        error = exc.response["Error"]
        return error["Code"] in ("AccessDenied", "AccessDeniedException") or (
            error["Code"] == "403" and "AccessDenied" in error.get("Message", ""))
    return False


def test_the_management_role_runs_retraining_deployment_rollback_ab_tests_monitoring_and_alerts(
        account, sentiment, monkeypatch):
    from findining_mlops.deployment import rollout as deployment
    from findining_mlops.deployment.verdict import CanaryThresholds
    from findining_mlops.monitoring import analysis as monitoring
    from findining_mlops.platform.aws import aws_platform
    from findining_mlops.platform.ports import ABTest, MetricEvent

    runs_training_jobs(monkeypatch)
    updates_endpoints(monkeypatch)
    assume("ml-management-role", monkeypatch)
    aws = aws_platform(account)  # fresh hooks: they pick up the role's credentials

    @set_initial_no_auth_action_count(0)
    def pipeline():
        bootstrap(aws, sentiment, START + timedelta(days=5), "findining-sentiment-job1")
        bootstrap(aws, sentiment, START + timedelta(days=5), "findining-sentiment-job2")
        rollout = deployment.plan(aws, sentiment, 2, "canary", 10, [10, 100], 0.0, "rollout-1")
        assert aws.endpoints.acquire_deployment_lock(ENDPOINT, "rollout-1") is None
        rollout = deployment.start(aws, rollout)
        started = datetime.fromisoformat(rollout.step_started)
        dims = {"EndpointName": ENDPOINT, "VariantName": "sentiment-v2"}
        with disable_iam_authentication():
            # what SageMaker records, not the pipeline: published outside the role
            boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace="AWS/SageMaker", MetricData=[
                {"MetricName": "Invocations", "Value": 40,
                 "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                 "Timestamp": started + timedelta(seconds=5)},
                {"MetricName": "Invocation5XXErrors", "Value": 20,
                 "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                 "Timestamp": started + timedelta(seconds=5)}])
        baked = deployment.bake(aws, sentiment, rollout, CanaryThresholds(), now=started + timedelta(minutes=2))
        assert deployment.finish(aws, baked, "rollout-1")["outcome"] == "rollback"
        aws.endpoints.release_deployment_lock(ENDPOINT, "rollout-1")
        autoscaling = boto3.client("application-autoscaling", region_name=REGION)
        targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        assert [t["ResourceId"] for t in targets] == [f"endpoint/{ENDPOINT}/variant/sentiment-v1"]  # the canary's went
        assert denied(lambda: autoscaling.put_scheduled_action(
            ServiceNamespace="sagemaker", ScheduledActionName="x", ResourceId=targets[0]["ResourceId"],
            ScalableDimension="sagemaker:variant:DesiredInstanceCount", Schedule="rate(1 hour)"))

        test = ABTest(test_id="ab-1", test_name="t", model_name="sentiment", endpoint=ENDPOINT, control_version=1,
                      treatment_version=2, control_variant="sentiment-v1", treatment_variant="sentiment-v2",
                      traffic_split=50, duration_days=7,
                      success_metrics={"engaged": {"kind": "binary", "direction": "increase"}},
                      guardrail_metrics={}, alpha=0.05, started_at="2026-10-06")
        aws.abtests.create(test)
        when = datetime(2026, 10, 6, tzinfo=UTC)
        aws.abtests.record([MetricEvent(f"e{n}", "ab-1", f"u{n}", "control", "engaged", 1.0, when, {})
                            for n in range(3)])
        assert len(aws.abtests.events("ab-1")) == 3
        aws.abtests.finish("ab-1", "stopped", "test", None, "2026-10-07")

        monitoring.publish_metrics(aws, sentiment, date.today() - timedelta(days=1), {
            "live_version": 1, "malformed": 0, "per_version": {1: {
                "drift_share": 0.2, "drifted_columns": [], "rows": 5, "performance": None, "performance_drop": None}}})
        aws.metrics.query("FindDining/ModelMonitoring", "DriftShare", {"Model": "sentiment", "Version": "1"},
                          datetime.now(UTC) - timedelta(days=2), datetime.now(UTC))
        aws.notifications.publish("least privilege", "the alerts topic takes the management role's messages")
        aws.endpoints.list_endpoints()

        s3, sm, iam = (boto3.client(s, region_name=REGION) for s in ("s3", "sagemaker", "iam"))
        assert denied(lambda: s3.delete_bucket(Bucket=BUCKET))
        assert denied(lambda: sm.delete_model_package_group(
            ModelPackageGroupName="ai-restaurant-recommendation-sentiment"))
        assert denied(lambda: iam.create_user(UserName="intruder"))
        assert denied(lambda: sm.delete_endpoint(EndpointName=ENDPOINT))
        assert denied(lambda: boto3.client("dynamodb", region_name=REGION).delete_table(TableName=TABLES[0]))
        # the tasks never rewrite what the orchestrator runs: MWAA's DAGs folder, plugins, or a source bundle
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="airflow/dags/x.py", Body=b"import os"))
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="airflow/plugins.zip", Body=b"PK"))
        assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key="airflow/dags/model_deployment.py"))
        [bundle] = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="code/sentiment/")["Contents"]]
        assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key=bundle))

    pipeline()


def test_the_management_role_runs_the_ab_analysis_on_athena_over_the_events_table(account, aws, monkeypatch):
    """The task's calls (the provider's AthenaHook) and, since moto's Athena reads neither Glue nor S3, the calls
    Athena makes on AWS with the caller's permissions: the table's metadata, the events, the results."""
    from findining_airflow.hooks.athena import AthenaQueries
    from findining_mlops.platform.ports import MetricEvent

    when = datetime(2026, 10, 6, 8, tzinfo=UTC)
    aws.abtests.record([MetricEvent(f"e{n}", "ab-1", f"u{n}", "control", "engaged", 1.0, when, {}) for n in range(4)])
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": GLUE_DATABASE})
    glue.create_table(DatabaseName=GLUE_DATABASE, TableInput={
        "Name": GLUE_TABLE, "PartitionKeys": [{"Name": "test_id", "Type": "string"}, {"Name": "dt", "Type": "string"}]})
    boto3.client("athena", region_name=REGION).create_work_group(Name=WORKGROUP)
    response = requests.post("http://motoapi.amazonaws.com/moto-api/static/athena/query-results", json={
        "account_id": ACCOUNT, "region": REGION, "results": [{
            "rows": [{"Data": [{"VarCharValue": "events"}]}, {"Data": [{"VarCharValue": "4"}]}],
            "column_info": [{"Name": "events", "Type": "bigint"}]}]})
    assert response.status_code == 201  # moto's documented way to set the next query's result
    assume("ml-management-role", monkeypatch)

    @set_initial_no_auth_action_count(0)
    def analysis():
        sql = f'SELECT count(*) AS events FROM "{GLUE_DATABASE}"."{GLUE_TABLE}" WHERE test_id = \'ab-1\''
        assert AthenaQueries(replace(account, ab_engine="athena")).rows(sql) == [{"events": 4}]
        glue, s3 = boto3.client("glue", region_name=REGION), boto3.client("s3", region_name=REGION)
        glue.get_database(Name=GLUE_DATABASE)
        glue.get_table(DatabaseName=GLUE_DATABASE, Name=GLUE_TABLE)
        glue.get_partitions(DatabaseName=GLUE_DATABASE, TableName=GLUE_TABLE)
        [part] = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="abtests/ab-1/events/")["Contents"]]
        s3.get_object(Bucket=BUCKET, Key=part)
        s3.put_object(Bucket=BUCKET, Key="athena-results/query.csv", Body=b"events\n4\n")
        athena = boto3.client("athena", region_name=REGION)
        assert denied(lambda: athena.delete_work_group(WorkGroup=WORKGROUP))
        assert denied(lambda: athena.create_work_group(Name="unbounded"))
        assert denied(lambda: glue.delete_table(DatabaseName=GLUE_DATABASE, Name=GLUE_TABLE))
        assert denied(lambda: glue.create_table(DatabaseName=GLUE_DATABASE, TableInput={"Name": "other"}))

    analysis()


def _cannot_change_what_the_orchestrator_or_a_job_runs(s3) -> None:
    """What code in a job or an endpoint would write to run as the management role or in the next job."""
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="airflow/dags/x.py", Body=b"import os"))
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="airflow/plugins.zip", Body=b"PK"))
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="code/sentiment/0123456789abcdef/sourcedir.tar.gz",
                                        Body=b"planted"))
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="models/sentiment/1/model.tar.gz", Body=b"x"))
    assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key="models/sentiment/1/model.tar.gz"))
    assert denied(lambda: s3.delete_bucket(Bucket=BUCKET))


def _starts_nothing() -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    assert denied(lambda: sm.create_training_job(
        TrainingJobName="findining-x", RoleArn=TRAINING_ROLE_ARN,
        AlgorithmSpecification={"TrainingImage": "i", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/x"}, StoppingCondition={"MaxRuntimeInSeconds": 60},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}))
    assert denied(lambda: boto3.client("iam").create_user(UserName="intruder"))
    assert denied(lambda: boto3.client("sns", region_name=REGION).publish(TopicArn=TOPIC_ARN, Message="x"))


def test_the_training_role_reads_code_data_and_check_inputs_and_writes_only_job_outputs(account, monkeypatch):
    s3 = boto3.client("s3", region_name=REGION)
    for key in ("training/sentiment/job/train/part-0.parquet", "code/sentiment/0123456789abcdef/sourcedir.tar.gz",
                "checks/sentiment-9.9.9/model.tar.gz"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"rows")
    assume("sagemaker-training-role", monkeypatch)

    @set_initial_no_auth_action_count(0)
    def container():
        s3 = boto3.client("s3", region_name=REGION)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="training/sentiment/job/train/")["Contents"]]
        assert s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read() == b"rows"
        s3.get_object(Bucket=BUCKET, Key="code/sentiment/0123456789abcdef/sourcedir.tar.gz")
        s3.get_object(Bucket=BUCKET, Key="checks/sentiment-9.9.9/model.tar.gz")
        s3.put_object(Bucket=BUCKET, Key="training/sentiment/job/output/model.tar.gz", Body=b"model")
        s3.put_object(Bucket=BUCKET, Key="checks/sentiment-9.9.9/output/result.json", Body=b"{}")
        boto3.client("ecr", region_name=REGION).get_authorization_token()
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="training/sentiment/job/train/part-0.parquet",
                                            Body=b"poisoned"))
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="datacapture/e/v/2026/10/01/00/capture.jsonl",
                                            Body=b"{}"))
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="checks/sentiment-9.9.9/result.json", Body=b"{}"))
        _cannot_change_what_the_orchestrator_or_a_job_runs(s3)
        _starts_nothing()

    container()


def test_the_serving_role_reads_code_and_models_and_writes_only_data_capture(account, monkeypatch):
    s3 = boto3.client("s3", region_name=REGION)
    for key in ("models/sentiment/1/model.tar.gz", "code/sentiment/0123456789abcdef/sourcedir.tar.gz",
                "training/sentiment/job/train/part-0.parquet"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"bytes")
    assume("sagemaker-serving-role", monkeypatch)

    @set_initial_no_auth_action_count(0)
    def endpoint():
        s3 = boto3.client("s3", region_name=REGION)
        s3.get_object(Bucket=BUCKET, Key="models/sentiment/1/model.tar.gz")
        s3.get_object(Bucket=BUCKET, Key="code/sentiment/0123456789abcdef/sourcedir.tar.gz")
        s3.put_object(Bucket=BUCKET, Key="datacapture/e/v/2026/10/01/00/capture.jsonl", Body=b"{}")
        assert denied(lambda: s3.get_object(Bucket=BUCKET, Key="training/sentiment/job/train/part-0.parquet"))
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="training/sentiment/job/output/model.tar.gz",
                                            Body=b"model"))
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="reports/sentiment/x.json", Body=b"{}"))
        _cannot_change_what_the_orchestrator_or_a_job_runs(s3)
        _starts_nothing()

    endpoint()


def _negative_feedback(count: int):
    import pandas as pd

    return pd.DataFrame({"inference_id": [f"fb-{i:03d}" for i in range(count)],
                         "text": ["Saw a cockroach near the kitchen; call me on 9123 4567."] * count,
                         "restaurant_id": ["r0007"] * count})


def _bedrock_output(job_inputs: str) -> bytes:
    """What a finished batch job writes: each input record with the model's forced tool call."""
    from findining_mlops.feedback.bedrock import TOOL_NAME

    analysis = {"schema_version": "1.0", "language": "en", "sentiment": "negative",
                "aspects": [{"aspect": "hygiene", "severity": 3, "evidence": ["cockroach"]}],
                "summary": "A cockroach was seen near the kitchen.",
                "suggested_reply": "We are sorry; we are inspecting today.",
                "needs_attention": True, "attention_reasons": ["hygiene"]}
    records = [json.loads(line) for line in job_inputs.splitlines()]
    return "\n".join(json.dumps({**r, "modelOutput": {"content": [
        {"type": "tool_use", "id": "t", "name": TOOL_NAME, "input": analysis}], "stop_reason": "tool_use"}})
        for r in records).encode()


def test_the_bedrock_policy_runs_the_digest_s_batch_files_reports_and_token_metrics(account, monkeypatch):
    """What the feedback code does besides calling Bedrock itself (Converse, batch jobs: the
    Stubber tests), under bedrock-access-role's policy alone: the batch input and its plan, the
    job's output read back, the analyses, the digest against the restaurant's past days, the
    token usage; and nothing of the rest of the pipeline."""
    from findining_mlops.config.settings import BedrockSettings
    from findining_mlops.feedback.batch import collect_batch, prepare_batch
    from findining_mlops.feedback.bedrock import (
        METRICS_NAMESPACE,
        BedrockAnalyzer,
        bedrock_runtime_client,
        publish_usage,
    )
    from findining_mlops.feedback.digest import build_digest, read_analyses, write_analyses, write_digest
    from findining_mlops.platform.aws import aws_platform
    from findining_mlops.store.layout import feedback_batch_prefix

    day = date.today() - timedelta(days=1)  # CloudWatch takes data of the last 14 days
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key="models/sentiment/1/model.tar.gz", Body=b"model")
    assume("bedrock-access-role", monkeypatch)
    aws = aws_platform(account)
    settings = BedrockSettings(model_id="anthropic.claude-3-haiku-20240307-v1:0", region=REGION)

    @set_initial_no_auth_action_count(0)
    def digest():
        job = prepare_batch(aws.store, day, _negative_feedback(4), settings, "20261013T010203")
        prefix = feedback_batch_prefix(day, job["job_name"])
        with disable_iam_authentication():  # Bedrock writes the output, as the batch role (the next test)
            inputs = s3.get_object(Bucket=BUCKET, Key=prefix + "input/records.jsonl")["Body"].read().decode()
            s3.put_object(Bucket=BUCKET, Key=prefix + "output/abc123/records.jsonl.out", Body=_bedrock_output(inputs))
        results, restaurants = collect_batch(aws.store, day, job["job_name"])
        assert [r.status for r in results] == ["analyzed"] * 4
        write_analyses(aws, day, results, restaurants)
        summary = build_digest(aws, day, read_analyses(aws, day))  # reads the last 28 days' digests
        assert [s["restaurant_id"] for s in summary["spikes"]] == ["r0007"]
        assert len(write_digest(aws, day, summary)) == 2
        analyzer = BedrockAnalyzer(bedrock_runtime_client(boto3.Session(), settings), settings)
        analyzer.usage.add({"inputTokens": 900, "outputTokens": 80})
        publish_usage(aws.metrics, analyzer, day)

        s3c, sm = boto3.client("s3", region_name=REGION), boto3.client("sagemaker", region_name=REGION)
        assert denied(lambda: s3c.get_object(Bucket=BUCKET, Key="models/sentiment/1/model.tar.gz"))
        assert denied(lambda: s3c.put_object(Bucket=BUCKET, Key="models/sentiment/9/model.tar.gz", Body=b"x"))
        assert denied(lambda: s3c.put_object(Bucket=BUCKET, Key="reports/drift/x.json", Body=b"{}"))
        assert denied(lambda: s3c.delete_object(Bucket=BUCKET, Key=prefix + "plan.json"))
        assert denied(lambda: s3c.delete_bucket(Bucket=BUCKET))
        assert denied(lambda: boto3.client("sns", region_name=REGION).publish(TopicArn=TOPIC_ARN, Message="x"))
        assert denied(lambda: sm.delete_endpoint(EndpointName=ENDPOINT))
        assert denied(lambda: boto3.client("iam").create_user(UserName="intruder"))

    digest()
    with disable_iam_authentication():
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        assert {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=METRICS_NAMESPACE)["Metrics"]} >= {
            "InputTokens", "OutputTokens"}


def test_the_batch_role_reads_a_job_s_input_and_writes_its_output_only(account, monkeypatch):
    """What Bedrock does as the batch role while a job runs."""
    prefix = "feedback/batch/dt=2026-10-12/findining-feedback-20261012-20261013T010203/"
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key=prefix + "input/records.jsonl", Body=b'{"recordId": "fb-1"}\n')
    s3.put_object(Bucket=BUCKET, Key=prefix + "plan.json", Body=b"{}")
    assume("bedrock-batch-role", monkeypatch)

    @set_initial_no_auth_action_count(0)
    def job():
        s3 = boto3.client("s3", region_name=REGION)
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "input/")["Contents"]] == [
            prefix + "input/records.jsonl"]
        assert s3.get_object(Bucket=BUCKET, Key=prefix + "input/records.jsonl")["Body"].read().startswith(b"{")
        s3.put_object(Bucket=BUCKET, Key=prefix + "output/abc123/records.jsonl.out", Body=b"{}")
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key=prefix + "input/records.jsonl", Body=b"x"))
        assert denied(lambda: s3.get_object(Bucket=BUCKET, Key=prefix + "plan.json"))
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="reports/feedback/dt=2026-10-12/digest.json",
                                            Body=b"{}"))
        assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key=prefix + "input/records.jsonl"))
        assert denied(lambda: boto3.client("cloudwatch", region_name=REGION).put_metric_data(
            Namespace="FindDining/FeedbackAnalysis", MetricData=[{"MetricName": "x", "Value": 1}]))
        assert denied(lambda: boto3.client("iam").create_user(UserName="intruder"))

    job()


def test_the_monitoring_role_runs_validate_and_changes_nothing(account, monkeypatch):
    from findining_mlops.cli.validate import run_checks

    outputs = {"resource_prefix": "ai-restaurant-recommendation", "aws_region": REGION, "bucket": BUCKET,
               "training_role_arn": TRAINING_ROLE_ARN, "serving_role_arn": SERVING_ROLE_ARN,
               "alerts_topic_arn": TOPIC_ARN,
               "role_arns": {"sagemaker-training-role": TRAINING_ROLE_ARN, "sagemaker-serving-role": SERVING_ROLE_ARN},
               "dashboard_name": "ai-restaurant-recommendation-ml-monitoring-test", "alarm_names": [],
               "endpoint_names": [ENDPOINT], "mwaa_environment_name": "ai-restaurant-recommendation-test-airflow",
               "athena_database_name": GLUE_DATABASE, "ab_events_glue_table_name": GLUE_TABLE,
               "athena_workgroup_name": WORKGROUP,
               **{o: t for o, t in zip(("state_table_name", "ab_tests_table_name"), TABLES, strict=False)}}
    outputs.update({"training_instance_type": "ml.m5.large", "training_volume_gb": 30,
                    "training_max_runtime_seconds": 7200,
                    "endpoint_instance_type": "ml.m5.large", "endpoint_instance_count": 1, "data_capture_percent": 100,
                    "endpoint_min_capacity": 1, "endpoint_max_capacity": 2, "target_invocations_per_instance": 1000,
                    "private_subnet_ids": list(SUBNETS), "sagemaker_security_group_ids": list(SECURITY_GROUPS),
                    "kms_key_arn": KEY_ARN,
                    "bedrock_model_id": "anthropic.claude-3-haiku-20240307-v1:0", "bedrock_guardrail_id": "",
                    "bedrock_guardrail_version": "",
                    "bedrock_batch_role_arn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-batch-role"})
    for role in (TRAINING_ROLE_ARN, SERVING_ROLE_ARN):
        boto3.client("iam").create_role(RoleName=role.rsplit("/", 1)[1], AssumeRolePolicyDocument="{}")
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": GLUE_DATABASE})
    glue.create_table(DatabaseName=GLUE_DATABASE, TableInput={
        "Name": GLUE_TABLE, "PartitionKeys": [{"Name": "test_id", "Type": "string"}, {"Name": "dt", "Type": "string"}]})
    boto3.client("athena", region_name=REGION).create_work_group(Name=WORKGROUP, Configuration={
        "EnforceWorkGroupConfiguration": True,
        "ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/athena-results/"}})
    answer_mwaa(monkeypatch, {"Name": outputs["mwaa_environment_name"], "Status": "AVAILABLE",
                              "StartupScriptS3Path": "airflow/startup.sh"})  # moto has no MWAA
    assume("ml-monitoring-role", monkeypatch)

    @set_initial_no_auth_action_count(0)
    def validate():
        checks = run_checks(outputs, boto3.Session())
        assert not [c for c in checks if "AccessDenied" in c.detail or "403" in c.detail], checks
        assert {c.name for c in checks if c.ok} >= {"role sagemaker-training-role present",
                                                    "role sagemaker-serving-role present",
                                                    f"table {TABLES[0]} active",
                                                    f"Athena workgroup {WORKGROUP} enforces its configuration",
                                                    f"Glue table {GLUE_DATABASE}.{GLUE_TABLE} present"}
        s3, sm = boto3.client("s3", region_name=REGION), boto3.client("sagemaker", region_name=REGION)
        assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="reports/x.json", Body=b"{}"))
        assert denied(lambda: s3.delete_bucket(Bucket=BUCKET))
        assert denied(lambda: boto3.client("sns", region_name=REGION).publish(TopicArn=TOPIC_ARN, Message="x"))
        assert denied(lambda: sm.delete_model_package_group(
            ModelPackageGroupName="ai-restaurant-recommendation-sentiment"))
        assert denied(lambda: boto3.client("iam").create_user(UserName="intruder"))
        assert denied(lambda: boto3.client("athena", region_name=REGION).start_query_execution(
            QueryString="SELECT 1", WorkGroup=WORKGROUP))
        assert denied(lambda: boto3.client("glue", region_name=REGION).delete_table(
            DatabaseName=GLUE_DATABASE, Name=GLUE_TABLE))

    validate()
