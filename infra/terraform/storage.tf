# The one bucket of the pipeline (store layout in docs/aws.md; MWAA's DAGs under airflow/)
# and the bucket its access logs go to. DynamoDB tables of the aws backend (A/B events are parquet in the
# bucket: athena.tf).

resource "aws_s3_bucket" "ml" {
  bucket = "${local.name}-ml-${local.account_id}"
  #checkov:skip=CKV_AWS_144: cross-region replication is a disaster-recovery choice per account; versioning and archived models cover the pipeline's own needs
  #checkov:skip=CKV2_AWS_62: nothing consumes S3 event notifications: model_artifact_watch polls the registry prefix
}

resource "aws_s3_bucket_versioning" "ml" {
  bucket = aws_s3_bucket.ml.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "ml" {
  bucket = aws_s3_bucket.ml.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.ml.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "ml" {
  bucket                  = aws_s3_bucket.ml.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "ml" {
  bucket = aws_s3_bucket.ml.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "ml" {
  bucket        = aws_s3_bucket.ml.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "s3/${aws_s3_bucket.ml.id}/"
}

locals {
  # every action that changes an object or its access besides PutObject (which CopyObject and multipart
  # uploads authorise as)
  object_change_actions = [
    "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl", "s3:PutObjectVersionAcl",
    "s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging",
    "s3:PutObjectRetention", "s3:PutObjectLegalHold", "s3:ReplicateObject", "s3:ReplicateDelete",
  ]
  object_write_actions = concat(["s3:PutObject"], local.object_change_actions)
}

# What the roles' own policies already hold, enforced once more for every principal of the account:
# MWAA's files (the DAGs, plugins, requirements, startup script) and the source bundles decide the code
# the orchestrator and the SageMaker jobs run, so only the deployer changes them; the management role
# may add a source bundle that does not exist yet (If-None-Match: *), never replace or delete one.
# Every write is encrypted with the stack's key: a request naming another algorithm or key is refused,
# and one naming none gets the bucket's default (the same key).
data "aws_iam_policy_document" "ml_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.ml.arn, "${aws_s3_bucket.ml.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  statement {
    sid       = "OnlyTheDeployerWritesAirflowsFiles"
    effect    = "Deny"
    actions   = local.object_write_actions
    resources = ["${aws_s3_bucket.ml.arn}/${local.dag_prefix}*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = local.deployers
    }
  }
  statement {
    sid       = "OnlyTheDeployerChangesSourceBundles"
    effect    = "Deny"
    actions   = local.object_change_actions
    resources = ["${aws_s3_bucket.ml.arn}/${local.code_prefix}*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = local.deployers
    }
  }
  statement {
    sid       = "OnlyTheDeployerAndTheManagementRoleUploadSourceBundles"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.ml.arn}/${local.code_prefix}*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = concat(local.deployers, [aws_iam_role.ml_management.arn])
    }
  }
  statement {
    sid       = "SourceBundlesAreNeverOverwritten"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.ml.arn}/${local.code_prefix}*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = local.deployers
    }
    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["true"]
    }
  }
  statement {
    sid       = "DenyAnyEncryptionButKms"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.ml.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }
  statement {
    sid       = "DenyAnyKeyButTheStacks"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.ml.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.ml.arn]
    }
  }
  statement {
    sid       = "DenyCustomerProvidedKeys"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.ml.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption-customer-algorithm"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "ml" {
  bucket     = aws_s3_bucket.ml.id
  policy     = data.aws_iam_policy_document.ml_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.ml]
}

resource "aws_s3_bucket_lifecycle_configuration" "ml" {
  bucket     = aws_s3_bucket.ml.id
  depends_on = [aws_s3_bucket_versioning.ml]

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "data-capture"
    status = "Enabled"
    filter {
      prefix = "datacapture/"
    }
    dynamic "transition" {
      for_each = var.capture_retention_days > 30 ? [30] : []
      content {
        days          = transition.value
        storage_class = "STANDARD_IA"
      }
    }
    expiration {
      days = var.capture_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
  }

  rule {
    id     = "reports"
    status = "Enabled"
    filter {
      prefix = "reports/"
    }
    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
    expiration {
      days = var.reports_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  # Athena's query results: the task reads them once, right after the query
  rule {
    id     = "athena-results"
    status = "Enabled"
    filter {
      prefix = local.athena_results_prefix
    }
    expiration {
      days = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  # Models are never overwritten or deleted by the code; old ones stay readable at once
  # (Glacier Instant Retrieval) so a rollback to any version works.
  rule {
    id     = "archive-models"
    status = "Enabled"
    filter {
      prefix = "models/"
    }
    transition {
      days          = var.model_archive_after_days
      storage_class = "GLACIER_IR"
    }
  }

  rule {
    id     = "archive-training-snapshots"
    status = "Enabled"
    filter {
      prefix = "training/"
    }
    transition {
      days          = var.model_archive_after_days
      storage_class = "GLACIER_IR"
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }
}

# ---- access logs --------------------------------------------------------------------------

resource "aws_s3_bucket" "access_logs" {
  bucket = "${local.name}-logs-${local.account_id}"
  #checkov:skip=CKV_AWS_18: this is the access-log bucket; logging it into itself would loop
  #checkov:skip=CKV_AWS_144: cross-region replication of access logs is an account-level choice
  #checkov:skip=CKV2_AWS_62: nothing consumes events of the access-log bucket
  #checkov:skip=CKV_AWS_145: S3 server access logging delivers only to buckets encrypted with SSE-S3, not SSE-KMS
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "access_logs_bucket" {
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket     = aws_s3_bucket.access_logs.id
  policy     = data.aws_iam_policy_document.access_logs_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket     = aws_s3_bucket.access_logs.id
  depends_on = [aws_s3_bucket_versioning.access_logs]

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# ---- DynamoDB (findining_mlops.platform.aws.dynamodb.key_schemas) ----------------------------

locals {
  tables = {
    state = {
      name = "${local.name}-mlops-state"
      keys = [{ name = "pk", type = "HASH" }, { name = "sk", type = "RANGE" }]
      # Locks taken with a ttl carry "expires" (epoch seconds); DynamoDB removes them once
      # expired. Locks without one store 0, which TTL ignores (over five years in the past).
      ttl = "expires"
    }
    ab_tests = {
      name = "${local.name}-ab-tests"
      keys = [{ name = "test_id", type = "HASH" }]
      ttl  = null
    }
  }
}

resource "aws_dynamodb_table" "this" {
  for_each     = local.tables
  name         = each.value.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = each.value.keys[0].name
  range_key    = length(each.value.keys) > 1 ? each.value.keys[1].name : null

  dynamic "attribute" {
    for_each = each.value.keys
    content {
      name = attribute.value.name
      type = "S"
    }
  }

  dynamic "ttl" {
    for_each = each.value.ttl == null ? [] : [each.value.ttl]
    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.ml.arn
  }

  deletion_protection_enabled = var.environment == "production"
}
