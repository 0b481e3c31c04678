"""infra/terraform read offline: every file parses, every environment sets what has no
default, and the variables' validation rules refuse bad values (evaluated from the HCL)."""

from __future__ import annotations

import pytest
from terraform_stack import ENVIRONMENTS, STACK, blocks, default, tf_files, tfvars, violated_rules

# For each variable with validation blocks, values a rule must refuse.
BAD_VALUES = {
    "project_prefix": ["AI-Restaurant", "x", "ai-restaurant-recommendation-too-long", "9lives"],
    "environment": ["prod", "Dev", ""],
    "aws_region": ["eu-west", "EU-WEST-1", "eu-west-1a", "europe"],
    "model_names": [[], ["Sentiment"], ["ok", "has space"]],
    "vpc_cidr": ["10.40.0.0/24", "10.40.0.0", "10.400.0.0/16", "10.40.0.0/33"],
    "availability_zone_count": [1, 4],
    "training_instance_type": ["m5.large", "ml.m5", "ml.M5.large"],
    "training_volume_gb": [0, 16385, 2.5],
    "training_max_runtime_seconds": [59, 2419201],
    "endpoint_instance_type": ["t2.medium", "ml..large"],
    "endpoint_instance_count": [0, 101],
    "endpoint_min_capacity": [0, 101],
    "endpoint_max_capacity": [0, 101],
    "target_invocations_per_instance": [0, -5],
    "data_capture_percent": [0, 101, -1],
    "sklearn_image_account_id": ["14150266760", "abcdefghijkl", "1415026676061"],
    "bedrock_model_ids": [[], ["claude"], ["arn:aws:bedrock:eu-west-1::foundation-model/x.y"]],
    "bedrock_inference_profiles": [{"anthropic.claude-3-haiku-20240307-v1:0": ["eu-west-1"]},
                                   {"eu.anthropic.claude-3-haiku-20240307-v1:0": []},
                                   {"eu.anthropic.claude-3-haiku-20240307-v1:0": ["eu-west"]},
                                   {"global.anthropic.claude-3-haiku-20240307-v1:0": ["eu-west-1"]}],
    "bedrock_guardrail_id": ["arn:aws:bedrock:eu-west-1:123456789012:guardrail/a1b2c3d4e5f6", "short", "A1B2C3D4E5F6"],
    "bedrock_guardrail_version": ["draft", "0", "v1"],
    "capture_retention_days": [6, 3651],
    "reports_retention_days": [29, 3651],
    "model_archive_after_days": [29, 3651],
    "log_retention_days": [0, 2, 366, 10000],
    "athena_bytes_scanned_cutoff": [0, 10485759, 20000000.5],
    "alert_email_addresses": [["on-call"], ["a@b"], ["two@@example.com"]],
    "alert_sqs_queue_arns": [["arn:aws:sns:eu-west-1:123456789012:topic"], ["queue-name"]],
    "cpu_alarm_threshold_percent": [0, 101],
    "memory_alarm_threshold_percent": [0, 100.5],
    "monitoring_trusted_principal_arns": [["123456789012"], ["arn:aws:iam::123456789012:group/oncall"]],
    "mwaa_airflow_version": ["2.10.3", "3.0", "latest"],
    "mwaa_environment_class": ["mw1.tiny", "small"],
    "mwaa_max_workers": [0, 26],
    "answer_cache_node_type": ["t4g.small", "cache.t4g", "redis.t4g.small"],
    "answer_cache_client_security_group_ids": [["sg-1"], ["0123456789abcdef0"], ["sg-XYZ12345"]],
    "deployer_principal_arns": [["123456789012"], ["arn:aws:sts::123456789012:assumed-role/deployer/session"]],
    "s3_endpoint_extra_bucket_arns": [["my-bucket"], ["arn:aws:s3:::my-bucket/key"]],
}


def test_every_tf_file_parses_and_the_stack_has_its_files():
    names = {path.name for path in tf_files()}
    assert {"versions.tf", "variables.tf", "outputs.tf"} <= names
    for concern in ("storage", "kms", "iam", "network", "orchestration", "serving", "monitoring"):
        assert f"{concern}.tf" in names, concern
    assert len(blocks("resource")) > 40


def test_versions_pin_terraform_1_11_and_the_aws_provider():
    text = (STACK / "versions.tf").read_text()
    assert 'required_version = ">= 1.11.0"' in text
    assert 'source  = "hashicorp/aws"' in text and 'version = "~> 6.' in text


def test_every_variable_has_a_type_and_a_description():
    for name, body in blocks("variable").items():
        assert "type" in body and body.get("description"), name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_sets_every_variable_without_default_and_only_declared_ones(environment):
    variables = blocks("variable")
    values = tfvars(environment)
    assert values["environment"] == environment
    required = {name for name, body in variables.items() if "default" not in body}
    assert required - values.keys() == set(), f"{environment}.tfvars misses {sorted(required - values.keys())}"
    assert values.keys() - variables.keys() == set(), \
        f"{environment}.tfvars sets undeclared {sorted(values.keys() - variables.keys())}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_passes_every_validation_rule(environment):
    values = tfvars(environment)
    for name, body in blocks("variable").items():
        value = values.get(name, default(name))
        if body.get("validation"):
            assert violated_rules(name, value) == [], f"{environment}: {name}={value!r}"
    assert values["endpoint_min_capacity"] <= values["endpoint_instance_count"] <= values["endpoint_max_capacity"]


def test_every_validated_variable_has_bad_values_in_this_test():
    validated = {name for name, body in blocks("variable").items() if body.get("validation")}
    assert validated == BAD_VALUES.keys()


@pytest.mark.parametrize("variable,value", [(n, v) for n, values in BAD_VALUES.items() for v in values])
def test_a_bad_value_breaks_a_validation_rule(variable, value):
    assert violated_rules(variable, value), f"{variable}={value!r} passed every validation rule"


def test_the_stack_has_no_route_to_the_internet():
    resources = blocks("resource")
    types = {name.split(".")[0] for name in resources}
    assert not types & {"aws_internet_gateway", "aws_nat_gateway", "aws_egress_only_internet_gateway", "aws_eip"}
    assert "route" not in resources["aws_route_table.private"]
