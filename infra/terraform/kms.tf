# One customer-managed key for the stack's data at rest: the bucket, the tables, the alerts
# topic, SageMaker training volumes/outputs and endpoint storage, MWAA and the log groups.
# The key policy names who may use it; IAM policies grant the same to the roles.

data "aws_iam_policy_document" "ml_key" {
  #checkov:skip=CKV_AWS_109: a key policy's Resource "*" is this key only; the account root administers it, as every KMS key policy must allow
  #checkov:skip=CKV_AWS_111: a key policy's Resource "*" is this key only; the writers are the named roles and services
  #checkov:skip=CKV_AWS_356: a key policy cannot name its own key ARN (the key does not exist yet); "*" means this key
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "PipelineRolesUseTheKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type = "AWS"
      identifiers = [
        aws_iam_role.sagemaker_training.arn,
        aws_iam_role.sagemaker_serving.arn,
        aws_iam_role.ml_management.arn,
        aws_iam_role.bedrock_access.arn,
        aws_iam_role.bedrock_batch.arn,
        aws_iam_role.ml_monitoring.arn,
      ]
    }
  }

  # SageMaker encrypts training volumes and endpoint storage through grants it creates
  # with the execution role's (or the caller's) identity.
  statement {
    sid       = "SageMakerVolumeGrants"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.sagemaker_training.arn, aws_iam_role.sagemaker_serving.arn, aws_iam_role.ml_management.arn]
    }
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsTheStacksLogGroups"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # Alarms and EventBridge rules publish to the encrypted alerts topic as their services.
  statement {
    sid       = "AlarmsAndEventsPublishToTheTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "ml" {
  description             = "${local.name}: models, data capture, tables, alerts, MWAA, logs"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.ml_key.json
}

resource "aws_kms_alias" "ml" {
  name          = "alias/${local.name}-ml"
  target_key_id = aws_kms_key.ml.key_id
}
