"""Resource scoping of the stack's IAM, checked statically (moto checks actions, not ARNs):
no "*" resource except for actions AWS does not let you scope, each listed here with why;
no managed *FullAccess policy; iam:PassRole only for the SageMaker training and serving roles and
the Bedrock batch role, each only to its service."""

from __future__ import annotations

from terraform_stack import STACK, blocks, comments, literal, policy_statements

# Actions with no resource type in the Service Authorization Reference: "*" is the only resource.
UNSCOPABLE = {
    "ecr:GetAuthorizationToken": "a registry login token, not tied to a repository",
    "cloudwatch:PutMetricData": "metrics have no ARN; a cloudwatch:namespace condition scopes it instead",
    "cloudwatch:GetMetricData": "metrics have no ARN",
    "logs:DescribeLogGroups": "lists the account's log groups",
    "s3:GetAccountPublicAccessBlock": "an account-level setting MWAA checks",
    "sagemaker:ListModelPackageGroups": "an account-wide listing",
    "sagemaker:ListEndpoints": "an account-wide listing",
    "application-autoscaling:DescribeScalableTargets": "an account-wide listing of a service namespace",
    "ec2:DescribeNetworkInterfaces": "EC2 Describe* calls have no resource type",
    "ec2:DescribeVpcs": "EC2 Describe* calls have no resource type",
    "ec2:DescribeDhcpOptions": "EC2 Describe* calls have no resource type",
    "ec2:DescribeSubnets": "EC2 Describe* calls have no resource type",
    "ec2:DescribeSecurityGroups": "EC2 Describe* calls have no resource type",
}
# Policies attached to a resource, where "*" names principals or (in a key policy) the key itself
RESOURCE_POLICIES = {"ml_key", "ml_bucket", "access_logs_bucket", "alerts_topic", "s3_endpoint", "account_endpoint"}


def identity_policies() -> dict[str, list[dict]]:
    names = [name.split(".", 1)[1] for name in blocks("data") if name.startswith("aws_iam_policy_document.")]
    return {name: policy_statements(name) for name in names
            if name not in RESOURCE_POLICIES and not name.endswith("_trust")}


def test_the_seed_roles_exist_with_their_policies_the_sagemaker_one_split_in_training_and_serving():
    roles = {literal(body["name"]) for name, body in blocks("resource").items() if name.startswith("aws_iam_role.")}
    for seed in ("sagemaker-training-role", "sagemaker-serving-role", "bedrock-access-role", "ml-management-role",
                 "ml-monitoring-role"):
        assert "${local.name}-" + seed in roles
    assert "${local.name}-sagemaker-execution-role" not in roles
    assert {"sagemaker_runtime", "sagemaker_training", "sagemaker_serving", "ml_management", "mwaa_runtime",
            "bedrock_access", "ml_monitoring"} <= identity_policies().keys()


def test_a_star_resource_only_for_actions_aws_cannot_scope_each_with_its_reason():
    for document, statements in identity_policies().items():
        for statement in statements:
            resources = literal(statement["resources"])
            if "*" in (resources if isinstance(resources, list) else [resources]):  # a str is one expression
                actions = literal(statement["actions"])
                assert set(actions) <= UNSCOPABLE.keys(), \
                    f"{document}: {sorted(set(actions) - UNSCOPABLE.keys())} on '*'"
                assert comments(statement), f"{document}: a '*' resource without a comment saying why"


def test_no_action_wildcard_covers_a_whole_service_in_a_role_policy():
    for document, statements in identity_policies().items():
        for statement in statements:
            for action in literal(statement["actions"]):
                assert action != "*" and not action.endswith(":*"), f"{document}: {action}"
                assert literal(statement.get("effect", '"Allow"')) == "Allow"


def test_no_aws_managed_full_access_policy():
    text = "\n".join(path.read_text() for path in STACK.rglob("*.tf"))
    assert "FullAccess" not in text
    for name, body in blocks("resource").items():
        if name.startswith("aws_iam_role_policy_attachment."):
            assert "arn:aws:iam::aws:policy" not in str(body["policy_arn"]), name


def test_pass_role_only_for_the_two_service_roles_each_only_to_its_service():
    """The management role passes the training and serving roles to SageMaker; the Bedrock policy
    passes the batch role to Bedrock. Nothing else is passed, to nothing else."""
    passing = {(document, statement["resources"][0]): statement for document, statements in identity_policies().items()
               for statement in statements if "iam:PassRole" in literal(statement["actions"])}
    assert set(passing) == {("ml_management", "${aws_iam_role.sagemaker_training.arn}"),
                            ("ml_management", "${aws_iam_role.sagemaker_serving.arn}"),
                            ("bedrock_access", "${aws_iam_role.bedrock_batch.arn}")}
    for (_, role), statement in passing.items():
        assert literal(statement["actions"]) == ["iam:PassRole"] and len(statement["resources"]) == 1
        [condition] = statement["condition"]
        assert literal(condition["variable"]) == "iam:PassedToService" and literal(condition["test"]) == "StringEquals"
        service = "sagemaker.amazonaws.com" if "sagemaker" in role else "bedrock.amazonaws.com"
        assert literal(condition["values"]) == [service]


def test_auto_scaling_is_the_management_role_s_and_only_for_its_own_endpoints_alarms():
    """The pipeline registers variants for scaling; only ml_management may, and the alarms a
    tracking policy creates are scoped to the environment's endpoints."""
    scaling = {document: statement for document, statements in identity_policies().items() for statement in statements
               if any(action.startswith("application-autoscaling:") for action in literal(statement["actions"]))}
    assert {document for document in scaling} == {"ml_management"}
    statements = {literal(s["sid"]): s for s in identity_policies()["ml_management"]}
    assert set(literal(statements["ScaleTheVariants"]["actions"])) == {
        "application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeleteScalingPolicy", "application-autoscaling:DeregisterScalableTarget"}
    assert literal(statements["TargetTrackingAlarms"]["resources"])[0].endswith(
        ":alarm:TargetTracking-endpoint/${local.name}-*")
    [condition] = statements["CreateTheAutoScalingServiceLinkedRoleOnce"]["condition"]
    assert literal(condition["values"]) == ["sagemaker.application-autoscaling.amazonaws.com"]


def test_validate_reads_the_airflow_environment_of_its_own_stack_only():
    statements = {literal(s["sid"]): s for s in identity_policies()["ml_monitoring"]}
    airflow = statements["AirflowEnvironmentAvailable"]
    assert literal(airflow["actions"]) == ["airflow:GetEnvironment"]
    assert literal(airflow["resources"])[0].endswith(":environment/${local.mwaa_name}")
