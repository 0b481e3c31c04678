"""The bucket policy and the VPC endpoint policies, rendered from the HCL and judged statically
(moto enforces identity policies only). The bucket policy is all Deny statements, so a request is
refused exactly when one of them matches it; ``refused`` evaluates the condition operators the
policy uses and fails on any other, so a new operator cannot pass unjudged."""

from __future__ import annotations

import functools
from fnmatch import fnmatchcase

import pytest
from terraform_stack import StackValues, blocks, literal, policy_statements, render_policy

ACCOUNT, BUCKET = "123456789012", "ai-restaurant-recommendation-dev-ml-123456789012"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
OTHER_KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/99999999-4b5a-6978-8a9b-0c1d2e3f4a5b"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ai-restaurant-recommendation-dev-"
DEPLOYER, MANAGEMENT = f"arn:aws:iam::{ACCOUNT}:role/deployer", ROLE + "ml-management-role"
TRAINING, SERVING = ROLE + "sagemaker-training-role", ROLE + "sagemaker-serving-role"
REFERENCES = {
    "aws_s3_bucket.ml.arn": f"arn:aws:s3:::{BUCKET}", "local.deployers": [DEPLOYER],
    "concat(local.deployers, [aws_iam_role.ml_management.arn])": [DEPLOYER, MANAGEMENT],
    "aws_iam_role.ml_management.arn": MANAGEMENT, "aws_kms_key.ml.arn": KEY_ARN,
    "local.object_change_actions": literal(blocks("locals")["object_change_actions"]),
    "local.object_write_actions": ["s3:PutObject", *literal(blocks("locals")["object_change_actions"])],
    "local.partition": "aws", "local.region": "eu-west-1", "local.account_id": ACCOUNT,
}
OPERATORS = {
    "ArnNotLike": lambda present, values: present is None or not any(fnmatchcase(present, v) for v in values),
    "StringNotEqualsIfExists": lambda present, values: present is not None and present not in values,
    "Null": lambda present, values: (present is None) == (values == ["true"]),
    "Bool": lambda present, values: str(present).lower() in values,
}


@functools.cache
def bucket_policy() -> dict:
    """Rendered once: every case below reads the same policy."""
    return render_policy("ml_bucket", StackValues(REFERENCES, {}))


def refused(action: str, key: str, principal: str, **context: str) -> bool:
    """Whether the bucket policy denies ``action`` on ``key`` by ``principal`` with the request's
    condition keys (``context``: header names with _ for - and :)."""
    request = {"aws:PrincipalArn": principal, "aws:SecureTransport": "true",
               **{name.replace("__", ":").replace("_", "-"): value for name, value in context.items()}}
    for statement in bucket_policy()["Statement"]:
        assert statement["Effect"] == "Deny", statement
        if action not in statement["Action"] and "s3:*" not in statement["Action"]:
            continue
        if not any(fnmatchcase(f"arn:aws:s3:::{BUCKET}/{key}", r) for r in statement["Resource"]):
            continue
        if all(OPERATORS[test](request.get(variable), values)
               for test, variables in statement.get("Condition", {}).items() for variable, values in variables.items()):
            return True
    return False


@pytest.mark.parametrize("principal", [TRAINING, SERVING, MANAGEMENT, f"arn:aws:iam::{ACCOUNT}:user/admin"])
@pytest.mark.parametrize("key", ["airflow/dags/x.py", "airflow/plugins.zip", "airflow/startup.sh"])
def test_only_the_deployer_writes_airflow_s_files(principal, key):
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl", "s3:DeleteObjectVersion"):
        assert refused(action, key, principal), (action, key, principal)
    assert not refused("s3:PutObject", key, DEPLOYER) and not refused("s3:DeleteObject", key, DEPLOYER)


def test_the_management_role_creates_source_bundles_but_never_replaces_or_deletes_one():
    key = "code/sentiment/0123456789abcdef/sourcedir.tar.gz"
    assert not refused("s3:PutObject", key, MANAGEMENT, s3__if_none_match="*")
    assert refused("s3:PutObject", key, MANAGEMENT)  # an overwrite: no If-None-Match
    assert refused("s3:DeleteObject", key, MANAGEMENT) and refused("s3:PutObjectTagging", key, MANAGEMENT)
    for job in (TRAINING, SERVING):
        assert refused("s3:PutObject", key, job, s3__if_none_match="*")
    assert not refused("s3:PutObject", key, DEPLOYER) and not refused("s3:DeleteObject", key, DEPLOYER)


def test_a_write_encrypted_otherwise_than_with_the_stack_s_key_is_refused():
    key = "models/sentiment/9/model.tar.gz"
    kms = "s3__x_amz_server_side_encryption"
    assert refused("s3:PutObject", key, MANAGEMENT, **{kms: "AES256"})
    assert refused("s3:PutObject", key, MANAGEMENT, **{kms: "aws:kms", f"{kms}_aws_kms_key_id": OTHER_KEY_ARN})
    assert refused("s3:PutObject", key, MANAGEMENT, s3__x_amz_server_side_encryption_customer_algorithm="AES256")
    assert not refused("s3:PutObject", key, MANAGEMENT, **{kms: "aws:kms", f"{kms}_aws_kms_key_id": KEY_ARN})
    assert not refused("s3:PutObject", key, MANAGEMENT)  # no header: the bucket's default, the stack's key
    assert refused("s3:GetObject", key, MANAGEMENT, aws__SecureTransport="false")


def test_the_bucket_s_default_encryption_is_the_stack_s_key():
    [rule] = blocks("resource")["aws_s3_bucket_server_side_encryption_configuration.ml"]["rule"]
    [default] = rule["apply_server_side_encryption_by_default"]
    assert (literal(default["sse_algorithm"]), default["kms_master_key_id"]) == ("aws:kms", "${aws_kms_key.ml.arn}")


def test_the_s3_endpoint_reaches_the_stack_s_bucket_and_ecr_s_layers_only():
    policy = render_policy("s3_endpoint", StackValues({**REFERENCES, "var.s3_endpoint_extra_bucket_arns": [],
                                                       "length(var.s3_endpoint_extra_bucket_arns) > 0 ? [1] : []": []},
                                                      {}))
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert resources == {f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*",
                         "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*"}
    [ours] = [s for s in policy["Statement"] if f"arn:aws:s3:::{BUCKET}" in s["Resource"]]
    assert ours["Condition"] == {"StringEquals": {"aws:PrincipalAccount": [ACCOUNT]}}
    gateways = blocks("resource")["aws_vpc_endpoint.gateway"]
    assert "data.aws_iam_policy_document.s3_endpoint.json" in gateways["policy"]


def test_interface_endpoints_answer_the_account_s_principals_except_mwaa_s_own():
    policy = render_policy("account_endpoint", StackValues(REFERENCES, {}))
    [statement] = policy["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": [ACCOUNT]}}
    interface = blocks("resource")["aws_vpc_endpoint.interface"]
    assert 'startswith(each.key, "airflow.") ? null : data.aws_iam_policy_document.account_endpoint.json' in \
        interface["policy"]


def test_mwaa_reads_its_dags_from_the_prefix_the_bucket_policy_guards():
    mwaa = blocks("resource")["aws_mwaa_environment.main"]
    assert literal(mwaa["dag_s3_path"]) == "${local.dag_prefix}dags/"
    assert literal(blocks("locals")["dag_prefix"]) == "airflow/"


def _writes(document: str) -> list[dict]:
    policy = render_policy(document, StackValues(REFERENCES | {"local.bucket_arn": f"arn:aws:s3:::{BUCKET}"}, {}))
    return [s for s in policy["Statement"] if {"s3:PutObject", "s3:DeleteObject"} & set(s["Action"])]


@pytest.mark.parametrize("document, allowed", [
    ("sagemaker_training", {"training/*/output/*", "checks/*/output/*"}),
    ("sagemaker_serving", {"datacapture/*"}),
])
def test_a_sagemaker_role_writes_its_own_outputs_only(document, allowed):
    [statement] = _writes(document)
    assert statement["Action"] == ["s3:PutObject"]
    assert {r.removeprefix(f"arn:aws:s3:::{BUCKET}/") for r in statement["Resource"]} == allowed


def test_the_management_role_writes_neither_airflow_s_files_nor_code_but_new_bundles():
    prefixes = literal(blocks("locals")["management_write_prefixes"])
    assert not [p for p in prefixes if p.startswith(("airflow/", "code/"))] and "" not in prefixes
    writes = {literal(s["sid"]): s for s in policy_statements("ml_management")
              if {"s3:PutObject", "s3:DeleteObject"} & set(literal(s["actions"]))}
    assert set(writes) == {"WriteThePipelinesPrefixes", "CreateSourceBundlesNeverReplaceThem"}
    assert "local.management_write_prefixes" in writes["WriteThePipelinesPrefixes"]["resources"]
    bundles = writes["CreateSourceBundlesNeverReplaceThem"]
    assert literal(bundles["actions"]) == ["s3:PutObject"]
    assert literal(bundles["resources"]) == ["${local.bucket_arn}/${local.code_prefix}*"]
    [condition] = bundles["condition"]
    assert (literal(condition["variable"]), literal(condition["values"])) == ("s3:if-none-match", ["*"])
