# The app's answer cache (findining_mlops.serving.cache, MLService.from_env): ElastiCache for
# Redis in the private subnets, a primary and a replica in two zones, encrypted at rest with
# the stack's key and in transit (TLS). Nobody holds a password: the only user that can act
# authenticates with IAM (a short-lived SigV4 token its role signs, `elasticache:Connect`), may
# only GET/SET the answer keys, and the app's role gets that right from one managed policy.
# The pipeline itself never reads the cache, so MWAA is neither allowed in nor configured.

locals {
  # ElastiCache ids are at most 40 characters: a shortened prefix, then the environment
  answer_cache_id   = "${trimsuffix(substr(var.project_prefix, 0, 16), "-")}-${var.environment}-answers"
  answer_cache_user = "${local.answer_cache_id}-app"
}

resource "aws_security_group" "answer_cache" {
  name        = "${local.name}-answer-cache"
  description = "Answer cache: Redis over TLS from the app servers' security groups only"
  vpc_id      = aws_vpc.main.id

  dynamic "ingress" {
    for_each = length(var.answer_cache_client_security_group_ids) > 0 ? [1] : []
    content {
      description     = "Redis (TLS) from the app servers"
      from_port       = 6379
      to_port         = 6379
      protocol        = "tcp"
      security_groups = var.answer_cache_client_security_group_ids
    }
  }
}

resource "aws_elasticache_subnet_group" "answer_cache" {
  name        = "${local.name}-answer-cache"
  description = "The stack's private subnets"
  subnet_ids  = aws_subnet.private[*].id
}

# Redis requires a user named "default" in every user group: this one is switched off.
resource "aws_elasticache_user" "answer_cache_default" {
  user_id       = "${local.answer_cache_id}-off"
  user_name     = "default"
  engine        = "redis"
  access_string = "off -@all"

  authentication_mode {
    type = "no-password-required"
  }
}

# IAM authentication needs the user id and name to be equal.
resource "aws_elasticache_user" "answer_cache_app" {
  user_id       = local.answer_cache_user
  user_name     = local.answer_cache_user
  engine        = "redis"
  access_string = "on ~findining:answer:* -@all +get +set +ping +hello +client +select"

  authentication_mode {
    type = "iam"
  }
}

resource "aws_elasticache_user_group" "answer_cache" {
  user_group_id = local.answer_cache_id
  engine        = "redis"
  user_ids      = [aws_elasticache_user.answer_cache_default.user_id, aws_elasticache_user.answer_cache_app.user_id]
}

resource "aws_elasticache_replication_group" "answer_cache" {
  #checkov:skip=CKV_AWS_31: transit encryption is on and every client authenticates with IAM (RBAC user group); an AUTH token would be a shared secret to rotate
  replication_group_id       = local.answer_cache_id
  description                = "Find Dining model answers cached by MLService (${var.environment})"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.answer_cache_node_type
  port                       = 6379
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true
  subnet_group_name          = aws_elasticache_subnet_group.answer_cache.name
  security_group_ids         = [aws_security_group.answer_cache.id]
  user_group_ids             = [aws_elasticache_user_group.answer_cache.user_group_id]
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.ml.arn
  transit_encryption_enabled = true
  auto_minor_version_upgrade = true
  snapshot_retention_limit   = 0 # answers expire within minutes and are recomputed: nothing to restore
  apply_immediately          = false
}

data "aws_iam_policy_document" "answer_cache_connect" {
  statement {
    sid       = "ConnectAsTheAnswerCacheUser"
    actions   = ["elasticache:Connect"]
    resources = [aws_elasticache_replication_group.answer_cache.arn, aws_elasticache_user.answer_cache_app.arn]
  }
}

resource "aws_iam_policy" "answer_cache_connect" {
  name        = "${local.name}-answer-cache-connect"
  description = "Attach to the app servers' role: connect to the answer cache as its IAM user"
  policy      = data.aws_iam_policy_document.answer_cache_connect.json
}
