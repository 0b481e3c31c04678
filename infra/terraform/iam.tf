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

  # MWAA's files (orchestration.tf) and the SageMaker source bundles: what decides the code the
  # orchestrator and the jobs run. Only the deployer writes them (storage.tf, the bucket policy).
  dag_prefix  = "airflow/"
  code_prefix = "code/"
  # everything the pipeline's tasks write (findining_mlops.store.layout), never the two above
  management_write_prefixes = [
    "data/", "training/", "models/", "baselines/", "registry/", "reports/", "feedback/", "abtests/",
    "deployments/", "uploads/", "drills/", "checks/", "athena-results/",
  ]
}

# ---- sagemaker-training-role and sagemaker-serving-role ---------------------------------------
# Code in a training job, a model check (a processing job) or an endpoint runs as one of these, so
# each may write only what its job produces: a training job its output, a check its result, an
# endpoint its data capture. Neither can write the DAGs (airflow/), the source bundles (code/) or a
# registered model, so nothing they run can change what the orchestrator or a later job runs.

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

resource "aws_iam_role" "sagemaker_training" {
  name               = "${local.name}-sagemaker-training-role"
  description        = "Training jobs and model checks of ${local.name}: reads code, data and checks; writes their outputs only"
  assume_role_policy = data.aws_iam_policy_document.sagemaker_trust.json
}

resource "aws_iam_role" "sagemaker_serving" {
  name               = "${local.name}-sagemaker-serving-role"
  description        = "Endpoints of ${local.name}: reads code and model artifacts; writes data capture only"
  assume_role_policy = data.aws_iam_policy_document.sagemaker_trust.json
}

# What any SageMaker container of the stack needs besides the bucket: the key, the image, logs, the VPC.
data "aws_iam_policy_document" "sagemaker_runtime" {
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
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

# Training jobs (OutputDataConfig: training/<model>/<job>/output/) and model checks, processing
# jobs whose inputs are under checks/<check>/ and whose result goes to checks/<check>/output/.
data "aws_iam_policy_document" "sagemaker_training" {
  statement {
    sid       = "ReadCodeDataAndCheckInputs"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/code/*", "${local.bucket_arn}/training/*", "${local.bucket_arn}/checks/*"]
  }
  statement {
    sid       = "ListTheChannels"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["code/*", "training/*", "checks/*"]
    }
  }
  statement {
    sid       = "WriteJobOutputsOnly"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/training/*/output/*", "${local.bucket_arn}/checks/*/output/*"]
  }
}

# Endpoints: the model's artifact (models/, or a rollback drill's under drills/) and its source
# bundle (code/) are read by SageMaker as the role; the container's requests go to datacapture/.
data "aws_iam_policy_document" "sagemaker_serving" {
  statement {
    sid       = "ReadCodeAndModels"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/code/*", "${local.bucket_arn}/models/*", "${local.bucket_arn}/drills/*"]
  }
  statement {
    sid       = "WriteDataCaptureOnly"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/datacapture/*"]
  }
}

resource "aws_iam_policy" "sagemaker" {
  for_each = {
    runtime  = data.aws_iam_policy_document.sagemaker_runtime.json
    training = data.aws_iam_policy_document.sagemaker_training.json
    serving  = data.aws_iam_policy_document.sagemaker_serving.json
  }
  name   = "${local.name}-sagemaker-${each.key}"
  policy = each.value
}

resource "aws_iam_role_policy_attachment" "sagemaker" {
  for_each = {
    training-runtime = { role = aws_iam_role.sagemaker_training.name, policy = "runtime" }
    training         = { role = aws_iam_role.sagemaker_training.name, policy = "training" }
    serving-runtime  = { role = aws_iam_role.sagemaker_serving.name, policy = "runtime" }
    serving          = { role = aws_iam_role.sagemaker_serving.name, policy = "serving" }
  }
  role       = each.value.role
  policy_arn = aws_iam_policy.sagemaker[each.value.policy].arn
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
    resources = [local.bucket_arn, "${local.bucket_arn}/${local.dag_prefix}*"]
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
    sid = "ReadTheStore"
    # GetObjectVersion: an uploaded model is registered from the very version its check read
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.objects_arn]
  }
  statement {
    sid       = "WriteThePipelinesPrefixes"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = [for prefix in local.management_write_prefixes : "${local.bucket_arn}/${prefix}*"]
  }
  statement {
    sid = "CreateSourceBundlesNeverReplaceThem"
    # a bundle is named by its content and written with If-None-Match: * (platform/aws/source.py);
    # the bucket policy refuses any other write under code/ but the deployer's
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/${local.code_prefix}*"]
    condition {
      test     = "StringEquals"
      variable = "s3:if-none-match"
      values   = ["*"]
    }
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
    sid = "ModelChecks"
    # an uploaded model is checked in a processing job as the training role (platform/aws/model_checks.py)
    actions   = ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob", "sagemaker:AddTags"]
    resources = ["${local.sm_arn}:processing-job/${local.training_job_prefix}*"]
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
    sid       = "PassTheTrainingRoleToSageMakerOnly"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.sagemaker_training.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
  statement {
    sid       = "PassTheServingRoleToSageMakerOnly"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.sagemaker_serving.arn]
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
      aws_iam_role.sagemaker_training.arn, aws_iam_role.sagemaker_serving.arn, aws_iam_role.ml_management.arn,
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
