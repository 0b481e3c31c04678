"""The stack's side of the app's answer cache (infra/terraform/cache.tf): ElastiCache for Redis
that is encrypted and replicated, reached only from the app servers, with no password at all:
one user that signs in with IAM and may only read and write the keys serving.cache uses."""

from __future__ import annotations

import pytest
from terraform_stack import StackValues, blocks, evaluate, literal, render_policy

ACCOUNT, REGION = "123456789012", "eu-west-1"
GIVEN = {"local.partition": "aws", "local.region": REGION, "local.account_id": ACCOUNT,
         "aws_elasticache_replication_group.answer_cache.arn":
             f"arn:aws:elasticache:{REGION}:{ACCOUNT}:replicationgroup:ai-restaurant-re-production-answers",
         "aws_elasticache_user.answer_cache_app.arn":
             f"arn:aws:elasticache:{REGION}:{ACCOUNT}:user:ai-restaurant-re-production-answers-app"}


def _resource(name: str) -> dict:
    return blocks("resource")[name]


def test_the_cache_is_encrypted_at_rest_with_the_stacks_key_in_transit_and_has_a_replica_in_another_zone():
    group = _resource("aws_elasticache_replication_group.answer_cache")
    assert group["at_rest_encryption_enabled"] is True and group["kms_key_id"] == "${aws_kms_key.ml.arn}"
    assert group["transit_encryption_enabled"] is True
    assert group["num_cache_clusters"] == 2 and group["automatic_failover_enabled"] is True
    assert group["multi_az_enabled"] is True
    assert group["user_group_ids"] == ["${aws_elasticache_user_group.answer_cache.user_group_id}"]
    subnets = _resource("aws_elasticache_subnet_group.answer_cache")
    assert subnets["subnet_ids"] == "${aws_subnet.private[*].id}"


def test_only_an_iam_user_can_act_and_only_on_the_answer_keys_with_the_commands_the_client_sends():
    from findining_mlops.serving.client.cache import KEY_PREFIX

    default = _resource("aws_elasticache_user.answer_cache_default")
    assert literal(default["user_name"]) == "default" and literal(default["access_string"]).startswith("off ")
    app = _resource("aws_elasticache_user.answer_cache_app")
    assert [literal(m["type"]) for m in app["authentication_mode"]] == ["iam"]
    assert app["user_id"] == app["user_name"]  # IAM authentication requires it
    access = literal(app["access_string"]).split()
    assert access[:3] == ["on", f"~{KEY_PREFIX}*", "-@all"]
    assert set(access[3:]) == {"+get", "+set", "+ping", "+hello", "+client", "+select"}
    group = _resource("aws_elasticache_user_group.answer_cache")
    assert set(group["user_ids"]) == {"${aws_elasticache_user.answer_cache_default.user_id}",
                                      "${aws_elasticache_user.answer_cache_app.user_id}"}


def test_only_the_app_servers_security_groups_reach_redis():
    group = _resource("aws_security_group.answer_cache")
    [dynamic] = group["dynamic"]
    [ingress] = dynamic['"ingress"']['content']
    assert (ingress["from_port"], ingress["to_port"], literal(ingress["protocol"])) == (6379, 6379, "tcp")
    assert ingress["security_groups"] == "${var.answer_cache_client_security_group_ids}"
    assert "cidr_blocks" not in ingress and "ingress" not in group and "egress" not in group


def test_the_connect_policy_lets_the_app_role_sign_in_to_this_cache_as_its_user_only():
    policy = render_policy("answer_cache_connect", StackValues(GIVEN, {}))
    [statement] = policy["Statement"]
    assert statement["Action"] == ["elasticache:Connect"]
    assert set(statement["Resource"]) == {GIVEN["aws_elasticache_replication_group.answer_cache.arn"],
                                          GIVEN["aws_elasticache_user.answer_cache_app.arn"]}


@pytest.mark.parametrize("environment", ["dev", "staging", "production"])
@pytest.mark.parametrize("prefix", ["ai-restaurant-recommendation", "a" * 28, "findining-and-more-x"])
def test_the_caches_ids_fit_elasticaches_rules_for_every_prefix_and_environment(prefix, environment):
    """At most 40 characters, letters, digits and single hyphens, not ending in one."""
    variables = {"project_prefix": prefix, "environment": environment}
    for expression in ('"${local.answer_cache_id}"', '"${local.answer_cache_id}-app"',
                       '"${local.answer_cache_id}-off"'):
        name = evaluate(expression, variables)
        assert len(name) <= 40 and "--" not in name and not name.endswith("-"), name


def test_the_outputs_give_the_client_its_url_and_iam_settings():
    from findining_mlops.serving.client.cache import CACHE_IAM_AUTH_ENV, CACHE_URL_ENV

    outputs = blocks("output")
    url = outputs["answer_cache_url"]
    assert literal(url["description"]).startswith(CACHE_URL_ENV)
    assert literal(url["value"]).startswith("rediss://${aws_elasticache_user.answer_cache_app.user_name}@")
    iam = outputs["answer_cache_iam_auth"]
    assert literal(iam["description"]).startswith(CACHE_IAM_AUTH_ENV)
    assert iam["value"] == "${aws_elasticache_replication_group.answer_cache.replication_group_id}"
