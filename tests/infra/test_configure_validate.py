"""`findining-mlops configure` and `findining-mlops validate` against a moto account that
holds what infra/terraform creates."""

from __future__ import annotations

import json
import shlex

import pytest
from moto_stack import (
    ENDPOINT,
    NAME,
    PACKAGE_GROUP,
    REGION,
    ROLE_NAMES,
    answer_mwaa,
    create_stack,
    deploy_registered_version,
    mwaa_environment,
    terraform_output_json,
)


@pytest.fixture
def account(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.Session()


@pytest.fixture
def mwaa(account, monkeypatch) -> dict:
    """What MWAA answers about the environment (moto has no MWAA)."""
    environment: dict = {}
    answer_mwaa(monkeypatch, environment)
    return environment


@pytest.fixture
def stack(account, mwaa, tmp_path):
    outputs = create_stack(account)
    deploy_registered_version(account, outputs["bucket"], outputs["serving_role_arn"])
    mwaa.update(mwaa_environment(outputs))
    path = tmp_path / "outputs.json"
    path.write_text(terraform_output_json(outputs))
    return outputs, path


def cli(*argv: str) -> int:
    from findining_mlops.cli.main import main

    return main(list(argv))


def test_configure_writes_every_setting_as_an_env_file_the_settings_accept(stack, tmp_path):
    from findining_mlops.config.settings import AWS_SETTINGS, Settings

    outputs, path = stack
    env_file = tmp_path / "startup.sh"
    assert cli("configure", "--terraform-output", str(path), "--out", str(env_file)) == 0
    exported = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1)
                    for line in env_file.read_text().splitlines() if line.startswith("export "))
    assert exported["FINDINING_BACKEND"] == "aws"
    assert {name for name, (output, _) in AWS_SETTINGS.items() if output} <= exported.keys()
    assert exported["FINDINING_BEDROCK_BATCH_ROLE_ARN"] == outputs["role_arns"]["bedrock-batch-role"]
    assert exported["FINDINING_BEDROCK_MODEL_ID"] == outputs["bedrock_model_id"]
    assert exported["FINDINING_BEDROCK_GUARDRAIL_ID"] == ""
    assert exported["FINDINING_VPC_SUBNET_IDS"] == ",".join(outputs["private_subnet_ids"])
    settings = Settings.from_env(exported).aws
    assert (settings.bucket, settings.kms_key_arn, settings.state_table) == (
        outputs["bucket"], outputs["kms_key_arn"], outputs["state_table_name"])
    assert exported["FINDINING_RESOURCE_PREFIX"] == outputs["resource_prefix"] == NAME


def test_configure_leaves_the_resource_prefix_to_the_environment_not_to_a_variable(stack, capsys):
    """The catalog names resources from the process environment: a Variable would be ignored."""
    _, path = stack
    assert cli("configure", "--terraform-output", str(path), "--format", "airflow-variables") == 0
    out, err = capsys.readouterr()
    assert "findining_resource_prefix" not in json.loads(out)
    assert f"FINDINING_RESOURCE_PREFIX={NAME}" in err and "environment of every Airflow process" in err


def test_configure_refuses_a_prefix_too_long_for_sagemaker_names(stack, tmp_path, capsys):
    outputs, _ = stack
    path = tmp_path / "long.json"
    path.write_text(terraform_output_json({**outputs, "resource_prefix": "ai-restaurant-recommendation-production-eu"}))
    assert cli("configure", "--terraform-output", str(path)) == 2
    assert "FINDINING_RESOURCE_PREFIX" in capsys.readouterr().err


def test_configure_writes_airflow_variables(stack, capsys):
    _, path = stack
    assert cli("configure", "--terraform-output", str(path), "--format", "airflow-variables") == 0
    variables = json.loads(capsys.readouterr().out)
    assert variables["findining_backend"] == "aws" and variables["findining_training_volume_gb"] == "30"


def test_configure_refuses_outputs_of_another_stack_naming_what_is_missing(tmp_path, capsys):
    path = tmp_path / "outputs.json"
    path.write_text(terraform_output_json({"aws_region": REGION, "bucket": "some-bucket"}))
    assert cli("configure", "--terraform-output", str(path)) == 2
    error = capsys.readouterr().err
    assert "training_role_arn" in error and "serving_role_arn" in error
    assert "alerts_topic_arn" in error and "terraform apply" in error


def test_configure_refuses_a_file_that_is_not_terraform_output_json(tmp_path, capsys):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"bucket": "plain"}))
    assert cli("configure", "--terraform-output", str(path)) == 2
    assert "terraform output -json" in capsys.readouterr().err


def test_validate_passes_on_the_stack_with_a_deployed_endpoint(stack, capsys):
    _, path = stack
    assert cli("validate", "--terraform-output", str(path)) == 0
    table = capsys.readouterr().out
    assert "FAIL" not in table and f"endpoint {ENDPOINT} serves registered versions  PASS" in table
    assert "sentiment-v1=v1 (1.0.0)" in table and "role ml-monitoring-role present" in table


@pytest.mark.parametrize("remove,failed", [
    (lambda s, o: s.client("iam").delete_role(RoleName=ROLE_NAMES["bedrock-access-role"]),
     "role bedrock-access-role present"),
    (lambda s, o: s.client("dynamodb", region_name=REGION).delete_table(TableName=o["ab_tests_table_name"]),
     "table ai-restaurant-recommendation-dev-ab-tests active"),
    (lambda s, o: s.client("cloudwatch", region_name=REGION).delete_alarms(AlarmNames=o["alarm_names"][:1]),
     "stack alarms present"),
    (lambda s, o: s.client("cloudwatch", region_name=REGION).delete_dashboards(DashboardNames=[o["dashboard_name"]]),
     "dashboard ai-restaurant-recommendation-ml-monitoring-dev present"),
    (lambda s, o: s.client("s3", region_name=REGION).delete_bucket_encryption(Bucket=o["bucket"]),
     "bucket ai-restaurant-recommendation-dev-ml-123456789012 reachable and encrypted"),
    (lambda s, o: s.client("sns", region_name=REGION).delete_topic(TopicArn=o["alerts_topic_arn"]),
     "alerts topic reachable and encrypted"),
    (lambda s, o: s.client("sagemaker", region_name=REGION).delete_endpoint(EndpointName=ENDPOINT),
     f"endpoint {ENDPOINT} serves registered versions"),
    (lambda s, o: _replace_workgroup_by_one_without_configuration(s, o["athena_workgroup_name"]),
     f"Athena workgroup {NAME}-ab enforces its configuration"),
    (lambda s, o: s.client("glue", region_name=REGION).delete_table(
        DatabaseName=o["athena_database_name"], Name=o["ab_events_glue_table_name"]),
     "Glue table ai_restaurant_recommendation_dev.ab_test_events present"),
])
def test_validate_names_the_check_that_fails_when_a_resource_is_removed(stack, account, capsys, remove, failed):
    outputs, path = stack
    remove(account, outputs)
    assert cli("validate", "--terraform-output", str(path)) == 1
    table = capsys.readouterr().out
    assert [line for line in table.splitlines() if " FAIL " in line] == [
        line for line in table.splitlines() if line.startswith(failed) and " FAIL " in line]
    assert f"failed: {failed}" in table


def _replace_workgroup_by_one_without_configuration(session, name: str) -> None:
    """A workgroup made by hand: queries in it would have no result location (moto has no UpdateWorkGroup)."""
    athena = session.client("athena", region_name=REGION)
    athena.delete_work_group(WorkGroup=name)
    athena.create_work_group(Name=name)


def test_validate_fails_an_endpoint_serving_an_unregistered_artifact(stack, account, capsys):
    outputs, path = stack
    sm = account.client("sagemaker", region_name=REGION)
    [package] = sm.list_model_packages(ModelPackageGroupName=PACKAGE_GROUP)["ModelPackageSummaryList"]
    sm.update_model_package(ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Rejected")
    assert cli("validate", "--terraform-output", str(path)) == 1
    assert "which no approved model package registers" in capsys.readouterr().out


def test_validate_before_the_first_deployment_skips_the_endpoints(account, mwaa, tmp_path, capsys):
    outputs = create_stack(account)
    mwaa.update(mwaa_environment(outputs))
    path = tmp_path / "outputs.json"
    path.write_text(terraform_output_json(outputs))
    assert cli("validate", "--terraform-output", str(path), "--before-first-deployment") == 0
    assert "endpoint" not in capsys.readouterr().out


@pytest.mark.parametrize("changes, detail", [
    ({"Status": "UPDATE_FAILED", "LastUpdate": {"Error": {"ErrorMessage": "plugins.zip is not a zip file"}}},
     "is UPDATE_FAILED: plugins.zip is not a zip file"),
    ({"ExecutionRoleArn": "arn:aws:iam::123456789012:role/somebody-else"}, "not the stack's ml-management-role"),
    ({"StartupScriptS3Path": ""}, "no startup script"),
])
def test_validate_checks_the_airflow_environment_through_the_mwaa_api(stack, mwaa, capsys, changes, detail):
    _, path = stack
    mwaa.update(changes)
    assert cli("validate", "--terraform-output", str(path)) == 1
    [failed] = [line for line in capsys.readouterr().out.splitlines() if " FAIL " in line]
    assert failed.startswith(f"Airflow environment {NAME}-airflow available") and detail in failed
