# The seed's roles, least privilege (bedrock-access-role and the batch role: bedrock.tf). Every
# "*" resource below is an action AWS does not let you scope to a resource (tests/infra/test_iam_scoping.py holds the list and why):
#   ecr:GetAuthorizationToken, cloudwatch:PutMetricData / GetMetricData, logs:DescribeLogGroups,
#   s3:GetAccountPublicAccessBlock, sagemaker:ListModelPackageGroups / ListEndpoints (account-wide),
#   ec2:Describe* (VPC discovery for SageMaker ENIs), sqs on MWAA's Celery queue (a service account).

locals {
  bucket_arn  = aws_s3_bucket.ml.arn
  objects_arn = "${aws_s3_bucket.ml.arn}/*"
  sm_arn      = "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}"
  logs_arn    = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group"
  table_arns  = [for t in aws_dynamodb_table.this : t.arn]
  mwaa_name   = "${local.name}-airflow"
}

# ---- sagemaker-execution-role: assumed by training jobs and endpoints -------------------------

data "aws_iam_policy_document" "sagemaker_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "sagemaker_execution" {
  name               = "${local.name}-sagemaker-execution-role"
  description        = "Training jobs and endpoints of ${local.name}: the bucket, the key, logs, image pulls, VPC ENIs"
  assume_role_policy = data.aws_iam_policy_document.sagemaker_trust.json
}

data "aws_iam_policy_document" "sagemaker_execution" {
  statement {
    sid       = "ReadWriteTheBucket"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.objects_arn]
  }
  statement {
    sid       = "ListTheBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = [aws_kms_key.ml.arn]
  }
  statement {
    sid       = "EncryptVolumesThroughGrants"
    actions   = ["kms:CreateGrant"]
    resources = [aws_kms_key.ml.arn]
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
  statement {
    sid       = "PullTheScikitLearnImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = ["arn:${local.partition}:ecr:${local.region}:${var.sklearn_image_account_id}:repository/sagemaker-scikit-learn"]
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource type
  }
  statement {
    sid       = "WriteJobAndEndpointLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${local.logs_arn}:/aws/sagemaker/*"]
  }
  statement {
    sid       = "PublishContainerMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; the namespace condition scopes it
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*"]
    }
  }
  statement {
    sid       = "DiscoverTheVpc"
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
    resources = ["*"] # EC2 Describe* actions have no resource type
  }
  statement {
    sid     = "AttachToThePrivateSubnets"
    actions = ["ec2:CreateNetworkInterface"]
    resources = concat(
      [for s in aws_subnet.private : s.arn],
      [aws_security_group.sagemaker.arn, "arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"],
    )
  }
  statement {
    sid       = "ManageItsInterfacesInTheVpc"
    actions   = ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"]
    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = [aws_vpc.main.arn]
    }
  }
}

resource "aws_iam_policy" "sagemaker_execution" {
  name   = "${local.name}-sagemaker-execution"
  policy = data.aws_iam_policy_document.sagemaker_execution.json
}

resource "aws_iam_role_policy_attachment" "sagemaker_execution" {
  role       = aws_iam_role.sagemaker_execution.name
  policy_arn = aws_iam_policy.sagemaker_execution.arn
}

# ---- ml-management-role: the MWAA execution role, what Airflow's tasks call -------------------

data "aws_iam_policy_document" "mwaa_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "ml_management" {
  name               = "${local.name}-ml-management-role"
  description        = "MWAA execution role of ${local.name}: what the DAGs' tasks call"
  assume_role_policy = data.aws_iam_policy_document.mwaa_trust.json
}

# What MWAA itself needs of its execution role (the MWAA user guide's execution-role policy).
data "aws_iam_policy_document" "mwaa_runtime" {
  statement {
    sid       = "PublishAirflowMetrics"
    actions   = ["airflow:PublishMetrics"]
    resources = ["arn:${local.partition}:airflow:${local.region}:${local.account_id}:environment/${local.mwaa_name}"]
  }
  statement {
    sid       = "ReadDagsRequirementsPlugins"
    actions   = ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/airflow/*"]
  }
  statement {
    sid       = "CheckAccountPublicAccessBlock"
    actions   = ["s3:GetAccountPublicAccessBlock"]
    resources = ["*"] # an account-level setting, no bucket resource
  }
  statement {
    sid       = "WriteAirflowLogs"
    actions   = ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:PutLogEvents", "logs:GetLogEvents", "logs:GetLogRecord", "logs:GetLogGroupFields", "logs:GetQueryResults"]
    resources = ["${local.logs_arn}:airflow-${local.mwaa_name}-*"]
  }
  statement {
    sid       = "ListLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"] # DescribeLogGroups lists the account's groups; no resource type
  }
  statement {
    sid       = "CeleryQueue"
    actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"]
    resources = ["arn:${local.partition}:sqs:${local.region}:*:airflow-celery-*"] # MWAA's queue lives in a service account
  }
}

# What the pipeline's code calls (docs/aws.md section 3), nothing more.
data "aws_iam_policy_document" "ml_management" {
  statement {
    sid       = "ObjectsOfTheStore"
    # GetObjectVersion: an uploaded model is registered from the very version its check read
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.objects_arn]
  }
  statement {
    sid       = "ListTheStore"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }
  statement {
    sid       = "TrainingJobs"
    actions   = ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:AddTags"]
    resources = ["${local.sm_arn}:training-job/${local.training_job_prefix}*"]
  }
  statement {
    sid = "ModelRegistry"
    actions = [
      "sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup", "sagemaker:CreateModelPackage",
      "sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages", "sagemaker:UpdateModelPackage", "sagemaker:AddTags",
    ]
    resources = [
      "${local.sm_arn}:model-package-group/${local.name}-*",
      "${local.sm_arn}:model-package/${local.name}-*/*",
    ]
  }
  statement {
    sid = "EndpointsTheDagsOwn"
    actions = [
      "sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig",
      "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint",
      "sagemaker:UpdateEndpointWeightsAndCapacities", "sagemaker:InvokeEndpoint", "sagemaker:AddTags",
    ]
    resources = [
      "${local.sm_arn}:model/${local.name}-*",
      "${local.sm_arn}:endpoint-config/${local.name}-*",
      "${local.sm_arn}:endpoint/${local.name}-*",
    ]
  }
  statement {
    sid       = "AccountWideListings"
    actions   = ["sagemaker:ListModelPackageGroups", "sagemaker:ListEndpoints"]
    resources = ["*"] # List* of SageMaker have no resource type
  }
  statement {
    sid       = "PassTheExecutionRoleToSageMakerOnly"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.sagemaker_execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
  statement {
    sid       = "PublishPipelineMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; the namespace condition scopes it
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.pipeline_metrics_namespace]
    }
  }
  statement {
    sid       = "ReadMetrics"
    actions   = ["cloudwatch:GetMetricData"]
    resources = ["*"] # GetMetricData has no resource type
  }
  statement {
    sid     = "PerVariantAlarms"
    actions = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"]
    # the DAGs' per-variant alarms: <endpoint>-<variant>-<metric>, endpoint = <prefix>-<model>-endpoint
    resources = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.name}-*-endpoint-*"]
  }
  statement {
    sid     = "ScaleTheVariants"
    actions = ["application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy", "application-autoscaling:DeregisterScalableTarget"]
    # a scalable target's ARN ends in an opaque id, not the endpoint's name: region and account scope it
    resources = ["arn:${local.partition}:application-autoscaling:${local.region}:${local.account_id}:scalable-target/*"]
  }
  statement {
    sid       = "FindScaledVariants"
    actions   = ["application-autoscaling:DescribeScalableTargets"]
    resources = ["*"] # Describe* of Application Auto Scaling have no resource type
  }
  statement {
    sid     = "TargetTrackingAlarms"
    actions = ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"]
    # a tracking policy's alarms, which Application Auto Scaling manages with the caller's permission
    resources = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:TargetTracking-endpoint/${local.name}-*"]
  }
  statement {
    sid       = "CreateTheAutoScalingServiceLinkedRoleOnce"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["sagemaker.application-autoscaling.amazonaws.com"]
    }
  }
  statement {
    sid       = "TrainingJobLogs"
    actions   = ["logs:FilterLogEvents"]
    resources = ["${local.logs_arn}:/aws/sagemaker/TrainingJobs:*"]
  }
  statement {
    sid = "StateAndABTestTables"
    actions = [
      "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
      "dynamodb:Scan", "dynamodb:ConditionCheckItem", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable",
    ]
    resources = concat(local.table_arns, [for arn in local.table_arns : "${arn}/index/*"])
  }
  # FINDINING_AB_ENGINE=athena. Athena reads abtests/*/events/ and writes the results prefix with the caller's
  # S3 permissions: ObjectsOfTheStore and ListTheStore above hold those reads and writes.
  statement {
    sid       = "RunTheAbAnalysisInItsWorkgroup"
    actions   = ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution"]
    resources = [aws_athena_workgroup.ab.arn]
  }
  statement {
    sid       = "ReadTheAbEventsTable"
    actions   = ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"]
    resources = [local.glue_catalog_arn, aws_glue_catalog_database.ab.arn, aws_glue_catalog_table.ab_events.arn]
  }
  statement {
    sid       = "AthenaWritesLargeResultsInParts"
    actions   = ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${local.bucket_arn}/${local.athena_results_prefix}*"]
  }
  statement {
    sid       = "Alerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = [aws_kms_key.ml.arn]
  }
}

resource "aws_iam_policy" "mwaa_runtime" {
  name   = "${local.name}-mwaa-runtime"
  policy = data.aws_iam_policy_document.mwaa_runtime.json
}

resource "aws_iam_policy" "ml_management" {
  name   = "${local.name}-ml-management"
  policy = data.aws_iam_policy_document.ml_management.json
}

resource "aws_iam_role_policy_attachment" "ml_management" {
  # bedrock: the digest's tasks call Bedrock through the Airflow connection, as this role (bedrock.tf)
  for_each   = { runtime = aws_iam_policy.mwaa_runtime.arn, pipeline = aws_iam_policy.ml_management.arn, bedrock = aws_iam_policy.bedrock_access.arn }
  role       = aws_iam_role.ml_management.name
  policy_arn = each.value
}

# ---- ml-monitoring-role: on-call and `findining-mlops validate`; reads, never changes ---------

data "aws_iam_policy_document" "monitoring_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = length(var.monitoring_trusted_principal_arns) > 0 ? var.monitoring_trusted_principal_arns : ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_iam_role" "ml_monitoring" {
  name               = "${local.name}-ml-monitoring-role"
  description        = "Read-only view of ${local.name} for on-call and findining-mlops validate"
  assume_role_policy = data.aws_iam_policy_document.monitoring_trust.json
}

data "aws_iam_policy_document" "ml_monitoring" {
  statement {
    sid       = "BucketReachableAndEncrypted"
    actions   = ["s3:ListBucket", "s3:GetEncryptionConfiguration"]
    resources = [local.bucket_arn]
  }
  statement {
    sid       = "ReadReports"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/reports/*"]
  }
  statement {
    sid       = "TopicAttributes"
    actions   = ["sns:GetTopicAttributes"]
    resources = [aws_sns_topic.alerts.arn]
  }
  statement {
    sid     = "RolesPresent"
    actions = ["iam:GetRole"]
    resources = [
      aws_iam_role.sagemaker_execution.arn, aws_iam_role.ml_management.arn,
      aws_iam_role.bedrock_access.arn, aws_iam_role.bedrock_batch.arn,
      "arn:${local.partition}:iam::${local.account_id}:role/${local.name}-ml-monitoring-role",
    ]
  }
  statement {
    sid       = "TablesActive"
    actions   = ["dynamodb:DescribeTable"]
    resources = local.table_arns
  }
  statement {
    sid       = "AbWorkgroupConfigured"
    actions   = ["athena:GetWorkGroup"]
    resources = [aws_athena_workgroup.ab.arn]
  }
  statement {
    sid       = "AbEventsTableDefined"
    actions   = ["glue:GetTable"]
    resources = [local.glue_catalog_arn, aws_glue_catalog_database.ab.arn, aws_glue_catalog_table.ab_events.arn]
  }
  statement {
    sid     = "DashboardAndAlarms"
    actions = ["cloudwatch:GetDashboard", "cloudwatch:DescribeAlarms"]
    resources = [
      "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${local.dashboard_name}",
      "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.name}-*",
    ]
  }
  statement {
    sid       = "AirflowEnvironmentAvailable"
    actions   = ["airflow:GetEnvironment"]
    resources = ["arn:${local.partition}:airflow:${local.region}:${local.account_id}:environment/${local.mwaa_name}"]
  }
  statement {
    sid       = "ReadMetrics"
    actions   = ["cloudwatch:GetMetricData"]
    resources = ["*"] # GetMetricData has no resource type
  }
  statement {
    sid     = "EndpointsServeRegisteredVersions"
    actions = ["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel", "sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"]
    resources = [
      "${local.sm_arn}:endpoint/${local.name}-*",
      "${local.sm_arn}:endpoint-config/${local.name}-*",
      "${local.sm_arn}:model/${local.name}-*",
      "${local.sm_arn}:model-package-group/${local.name}-*",
      "${local.sm_arn}:model-package/${local.name}-*/*",
    ]
  }
  statement {
    sid       = "UseTheKeyToReadReports"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [aws_kms_key.ml.arn]
  }
}

resource "aws_iam_policy" "ml_monitoring" {
  name   = "${local.name}-ml-monitoring"
  policy = data.aws_iam_policy_document.ml_monitoring.json
}

resource "aws_iam_role_policy_attachment" "ml_monitoring" {
  role       = aws_iam_role.ml_monitoring.name
  policy_arn = aws_iam_policy.ml_monitoring.arn
}
