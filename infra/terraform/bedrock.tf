# Amazon Bedrock for the negative-feedback digest (the seed's bedrock-access-role), least privilege:
# only the configured models, inference profiles and guardrail; only the digest's S3 prefixes.
#
# The digest's tasks call Bedrock through the Airflow connection, so the bedrock_access policy is
# attached to the MWAA execution role (iam.tf) as well as to bedrock-access-role, which a person
# assumes to run `findining-mlops feedback analyze|evaluate --analyzer bedrock`. A batch inference
# job runs as its own role (bedrock-batch-role), passed by the task to Bedrock only.

locals {
  bedrock_arn = "arn:${local.partition}:bedrock:${local.region}:${local.account_id}"
  # findining_mlops.feedback.bedrock.METRICS_NAMESPACE: the token usage the digest publishes per day
  feedback_metrics_namespace = "FindDining/FeedbackAnalysis"
  # findining_mlops.feedback.batch.job_prefix: feedback/batch/dt=<day>/<job>/{input,output}/
  bedrock_batch_prefix = "feedback/batch/"
  # findining_mlops.feedback.digest.report_prefix: reports/feedback/dt=<day>/
  feedback_report_prefix = "reports/feedback/"

  bedrock_profile_arns = [for id in keys(var.bedrock_inference_profiles) : "${local.bedrock_arn}:inference-profile/${id}"]
  # a cross-region profile sends each request to one of its regions: the caller needs the
  # foundation model (the profile id without its geography prefix) in every one of them
  bedrock_model_arns = distinct(concat(
    [for id in var.bedrock_model_ids : "arn:${local.partition}:bedrock:${local.region}::foundation-model/${id}"],
    flatten([for id, regions in var.bedrock_inference_profiles :
    [for region in regions : "arn:${local.partition}:bedrock:${region}::foundation-model/${replace(id, "/^[a-z-]+\\./", "")}"]]),
  ))
  bedrock_invoke_arns = concat(local.bedrock_model_arns, local.bedrock_profile_arns)
  # what the analyses call (FINDINING_BEDROCK_MODEL_ID): the first inference profile by name, else the first model
  bedrock_model_id = concat(keys(var.bedrock_inference_profiles), var.bedrock_model_ids)[0]
}

# ---- bedrock-access-role: what the digest's code calls on Bedrock -----------------------------

data "aws_iam_policy_document" "bedrock_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"] # the account's principals allowed to assume it
    }
  }
}

resource "aws_iam_role" "bedrock_access" {
  name               = "${local.name}-bedrock-access-role"
  description        = "Bedrock analyses of negative feedback for ${local.name}: the configured models only"
  assume_role_policy = data.aws_iam_policy_document.bedrock_trust.json
}

data "aws_iam_policy_document" "bedrock_access" {
  statement {
    sid       = "InvokeTheConfiguredModelsAndProfiles"
    actions   = ["bedrock:InvokeModel"] # Converse is authorised as InvokeModel
    resources = local.bedrock_invoke_arns
  }
  dynamic "statement" {
    for_each = compact([var.bedrock_guardrail_id]) # none when no guardrail is set
    content {
      sid       = "ApplyTheConfiguredGuardrail"
      actions   = ["bedrock:ApplyGuardrail"]
      resources = ["${local.bedrock_arn}:guardrail/${statement.value}"]
    }
  }
  statement {
    sid       = "BatchInferenceJobs"
    actions   = ["bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob"]
    resources = concat(["${local.bedrock_arn}:model-invocation-job/*"], local.bedrock_invoke_arns)
  }
  statement {
    sid       = "PassTheBatchRoleToBedrockOnly"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.bedrock_batch.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["bedrock.amazonaws.com"]
    }
  }
  statement {
    sid       = "PublishTokenUsage"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; the namespace condition scopes it
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.feedback_metrics_namespace]
    }
  }
  statement {
    sid       = "BatchJobFilesAndTheDigest"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arn}/${local.bedrock_batch_prefix}*", "${local.bucket_arn}/${local.feedback_report_prefix}*"]
  }
  statement {
    sid     = "ListTheBucket"
    actions = ["s3:ListBucket"]
    # unconditioned: a HEAD of a day's missing digest answers 404, not 403, only with ListBucket
    resources = [local.bucket_arn]
  }
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = [aws_kms_key.ml.arn]
  }
}

resource "aws_iam_policy" "bedrock_access" {
  name   = "${local.name}-bedrock-access"
  policy = data.aws_iam_policy_document.bedrock_access.json

  lifecycle {
    precondition {
      condition     = (var.bedrock_guardrail_id == "") == (var.bedrock_guardrail_version == "")
      error_message = "bedrock_guardrail_id and bedrock_guardrail_version go together: set both or neither."
    }
  }
}

resource "aws_iam_role_policy_attachment" "bedrock_access" {
  role       = aws_iam_role.bedrock_access.name
  policy_arn = aws_iam_policy.bedrock_access.arn
}

# ---- bedrock-batch-role: what a batch inference job runs as (FINDINING_BEDROCK_BATCH_ROLE_ARN) ---

data "aws_iam_policy_document" "bedrock_batch_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["bedrock.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.bedrock_arn}:model-invocation-job/*"]
    }
  }
}

resource "aws_iam_role" "bedrock_batch" {
  name               = "${local.name}-bedrock-batch-role"
  description        = "Bedrock batch inference jobs of ${local.name}: read a job's input, write its output"
  assume_role_policy = data.aws_iam_policy_document.bedrock_batch_trust.json
}

data "aws_iam_policy_document" "bedrock_batch" {
  statement {
    sid       = "ReadTheJobsInput"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.bedrock_batch_prefix}*/input/*"]
  }
  statement {
    sid       = "ListTheJobsFolders"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.bedrock_batch_prefix}*"]
    }
  }
  statement {
    sid       = "WriteTheJobsOutput"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/${local.bedrock_batch_prefix}*/output/*"]
  }
  statement {
    sid       = "InvokeTheConfiguredModelsAndProfiles"
    actions   = ["bedrock:InvokeModel"]
    resources = local.bedrock_invoke_arns
  }
  statement {
    sid       = "UseTheKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = [aws_kms_key.ml.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "bedrock_batch" {
  name   = "${local.name}-bedrock-batch"
  policy = data.aws_iam_policy_document.bedrock_batch.json
}

resource "aws_iam_role_policy_attachment" "bedrock_batch" {
  role       = aws_iam_role.bedrock_batch.name
  policy_arn = aws_iam_policy.bedrock_batch.arn
}
