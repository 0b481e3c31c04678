# Amazon MWAA runs the DAGs. Its files live in the pipeline's bucket under airflow/ (local.dag_prefix),
# which only the deployer may write (storage.tf's bucket policy; var.deployer_principal_arns):
#   airflow/dags/            the repository's dags/
#   airflow/plugins.zip      plugins/ and include/ (findining_airflow, findining_mlops)
#   airflow/requirements.txt the project's requirements with MWAA's constraints
#   airflow/startup.sh       the pipeline's settings (findining-mlops configure --format env)
# Terraform sets only the DAGs folder; a deployment uploads the rest and points MWAA at it.
#   airflow/wheels/          wheels of whatever MWAA's private web server cannot download
# (docs/aws.md "Steps" uploads them). The web server is private; workers have no internet.

resource "aws_mwaa_environment" "main" {
  name                            = local.mwaa_name
  airflow_version                 = var.mwaa_airflow_version
  environment_class               = var.mwaa_environment_class
  max_workers                     = var.mwaa_max_workers
  min_workers                     = 1
  execution_role_arn              = aws_iam_role.ml_management.arn
  kms_key                         = aws_kms_key.ml.arn
  source_bucket_arn               = aws_s3_bucket.ml.arn
  dag_s3_path                     = "${local.dag_prefix}dags/"
  webserver_access_mode           = "PRIVATE_ONLY"
  endpoint_management             = "SERVICE"
  weekly_maintenance_window_start = "SUN:03:00"

  # The pipeline's settings reach the workers as environment variables exported by the
  # startup script, which `findining-mlops configure --format env` writes from this stack's
  # outputs (MWAA's aws_default connection is already the execution role). The startup
  # script, plugins.zip and requirements.txt are a deployment's, not the stack's: they can
  # only be written once the bucket exists, and `aws mwaa update-environment` points MWAA at
  # them (docs/aws.md "Steps"), so Terraform leaves those settings alone.
  lifecycle {
    ignore_changes = [
      startup_script_s3_path, startup_script_s3_object_version, plugins_s3_path, plugins_s3_object_version,
      requirements_s3_path, requirements_s3_object_version,
    ]
  }

  airflow_configuration_options = {
    "core.default_timezone"        = "utc"
    "scheduler.catchup_by_default" = "False"
  }

  network_configuration {
    security_group_ids = [aws_security_group.mwaa.id]
    subnet_ids         = slice(aws_subnet.private[*].id, 0, 2) # MWAA takes exactly two
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = "INFO"
    }
    scheduler_logs {
      enabled   = true
      log_level = "INFO"
    }
    task_logs {
      enabled   = true
      log_level = "INFO"
    }
    webserver_logs {
      enabled   = true
      log_level = "WARNING"
    }
    worker_logs {
      enabled   = true
      log_level = "INFO"
    }
  }

  depends_on = [aws_iam_role_policy_attachment.ml_management, aws_s3_bucket_public_access_block.ml]
}
