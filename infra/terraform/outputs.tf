# What the pipeline reads (findining_mlops.settings.AWS_SETTINGS maps each setting to one of
# these) and what `findining-mlops validate` checks. `findining-mlops configure
# --terraform-output FILE` turns `terraform output -json` into the settings.

output "resource_prefix" {
  description = "FINDINING_RESOURCE_PREFIX: endpoints, model package groups, SageMaker models and configs, per-variant alarms and lock keys start with it"
  value       = local.name
}

output "aws_region" {
  description = "FINDINING_AWS_REGION"
  value       = local.region
}

output "bucket" {
  description = "FINDINING_BUCKET: models, data, capture, reports, and MWAA's files under airflow/"
  value       = aws_s3_bucket.ml.id
}

output "training_role_arn" {
  description = "FINDINING_TRAINING_ROLE_ARN: the role training jobs and model checks run as (writes their outputs only)"
  value       = aws_iam_role.sagemaker_training.arn
}

output "serving_role_arn" {
  description = "FINDINING_SERVING_ROLE_ARN: the role endpoints' models run as (writes data capture only)"
  value       = aws_iam_role.sagemaker_serving.arn
}

output "alerts_topic_arn" {
  description = "FINDINING_ALERTS_TOPIC_ARN"
  value       = aws_sns_topic.alerts.arn
}

output "training_instance_type" {
  description = "FINDINING_TRAINING_INSTANCE_TYPE"
  value       = var.training_instance_type
}

output "training_volume_gb" {
  description = "FINDINING_TRAINING_VOLUME_GB"
  value       = var.training_volume_gb
}

output "training_max_runtime_seconds" {
  description = "FINDINING_TRAINING_MAX_RUNTIME_SECONDS"
  value       = var.training_max_runtime_seconds
}

output "endpoint_instance_type" {
  description = "FINDINING_ENDPOINT_INSTANCE_TYPE"
  value       = var.endpoint_instance_type
}

output "endpoint_instance_count" {
  description = "FINDINING_ENDPOINT_INSTANCE_COUNT"
  value       = var.endpoint_instance_count
}

output "endpoint_min_capacity" {
  description = "FINDINING_ENDPOINT_MIN_CAPACITY: each variant's auto-scaling floor"
  value       = var.endpoint_min_capacity
}

output "endpoint_max_capacity" {
  description = "FINDINING_ENDPOINT_MAX_CAPACITY: each variant's auto-scaling ceiling"
  value       = var.endpoint_max_capacity
}

output "target_invocations_per_instance" {
  description = "FINDINING_ENDPOINT_TARGET_INVOCATIONS: the target of each variant's SageMakerVariantInvocationsPerInstance tracking"
  value       = var.target_invocations_per_instance
}

output "data_capture_percent" {
  description = "FINDINING_CAPTURE_PERCENT"
  value       = var.data_capture_percent
}

output "private_subnet_ids" {
  description = "FINDINING_VPC_SUBNET_IDS: training jobs and models run in these (no internet route)"
  value       = aws_subnet.private[*].id
}

output "sagemaker_security_group_ids" {
  description = "FINDINING_VPC_SECURITY_GROUP_IDS"
  value       = [aws_security_group.sagemaker.id]
}

output "kms_key_arn" {
  description = "FINDINING_KMS_KEY_ARN"
  value       = aws_kms_key.ml.arn
}

output "state_table_name" {
  description = "FINDINING_STATE_TABLE"
  value       = aws_dynamodb_table.this["state"].name
}

output "ab_tests_table_name" {
  description = "FINDINING_ABTESTS_TABLE"
  value       = aws_dynamodb_table.this["ab_tests"].name
}

output "athena_database_name" {
  description = "FINDINING_ATHENA_DATABASE: the Glue database of the A/B events table"
  value       = aws_glue_catalog_database.ab.name
}

output "ab_events_glue_table_name" {
  description = "FINDINING_ATHENA_EVENTS_TABLE: the A/B events' Glue table (parquet, partitioned by test_id and dt)"
  value       = aws_glue_catalog_table.ab_events.name
}

output "athena_workgroup_name" {
  description = "FINDINING_ATHENA_WORKGROUP: where the A/B analysis runs with FINDINING_AB_ENGINE=athena"
  value       = aws_athena_workgroup.ab.name
}

# ---- Bedrock: the negative-feedback digest (findining_mlops.feedback.bedrock.BEDROCK_SETTINGS) ----

output "bedrock_model_id" {
  description = "FINDINING_BEDROCK_MODEL_ID: the model or cross-region inference profile the analyses call"
  value       = local.bedrock_model_id
}

output "bedrock_guardrail_id" {
  description = "FINDINING_BEDROCK_GUARDRAIL_ID: the guardrail applied to each analysis, empty for none"
  value       = var.bedrock_guardrail_id
}

output "bedrock_guardrail_version" {
  description = "FINDINING_BEDROCK_GUARDRAIL_VERSION"
  value       = var.bedrock_guardrail_version
}

output "bedrock_batch_role_arn" {
  description = "FINDINING_BEDROCK_BATCH_ROLE_ARN: the role a batch inference job runs as"
  value       = aws_iam_role.bedrock_batch.arn
}

# ---- for findining-mlops validate ----------------------------------------------------------

output "role_arns" {
  description = "The stack's roles: the seed's SageMaker role split into training and serving, the seed's other three, and the Bedrock batch role"
  value = {
    "sagemaker-training-role" = aws_iam_role.sagemaker_training.arn
    "sagemaker-serving-role"  = aws_iam_role.sagemaker_serving.arn
    "bedrock-access-role"     = aws_iam_role.bedrock_access.arn
    "bedrock-batch-role"      = aws_iam_role.bedrock_batch.arn
    "ml-management-role"      = aws_iam_role.ml_management.arn
    "ml-monitoring-role"      = aws_iam_role.ml_monitoring.arn
  }
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of this environment"
  value       = aws_cloudwatch_dashboard.monitoring.dashboard_name
}

output "alarm_names" {
  description = "The stack's endpoint alarms (the DAGs add per-variant ones)"
  value       = [for alarm in aws_cloudwatch_metric_alarm.endpoint : alarm.alarm_name]
}

output "endpoint_names" {
  description = "The endpoints the DAGs create, one per model"
  value       = local.endpoint_names
}

output "mwaa_environment_name" {
  description = "The MWAA environment running the DAGs"
  value       = aws_mwaa_environment.main.name
}

output "answer_cache_url" {
  description = "FINDINING_CACHE_URL of the app's MLService: the answer cache's primary endpoint over TLS, as its IAM user."
  value       = "rediss://${aws_elasticache_user.answer_cache_app.user_name}@${aws_elasticache_replication_group.answer_cache.primary_endpoint_address}:${aws_elasticache_replication_group.answer_cache.port}/0"
}

output "answer_cache_iam_auth" {
  description = "FINDINING_CACHE_IAM_AUTH of the app's MLService: the replication group its IAM tokens are signed for."
  value       = aws_elasticache_replication_group.answer_cache.replication_group_id
}

output "answer_cache_connect_policy_arn" {
  description = "The managed policy to attach to the app servers' role so they may connect to the answer cache."
  value       = aws_iam_policy.answer_cache_connect.arn
}
