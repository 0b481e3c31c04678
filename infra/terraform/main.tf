# Names and facts every file shares. One stack per environment: every name carries
# var.environment, so dev, staging and production can share an account.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
# the role behind terraform's session (or the user itself): the default deployer (var.deployer_principal_arns)
data "aws_iam_session_context" "current" {
  arn = data.aws_caller_identity.current.arn
}
# Zones a, b, c by name: a zone AWS adds later must not move subnets (and MWAA) around.
data "aws_availability_zones" "available" {
  state = "available"
  filter {
    name   = "zone-name"
    values = [for letter in ["a", "b", "c"] : "${var.aws_region}${letter}"]
  }
}

locals {
  name       = "${var.project_prefix}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = var.aws_region
  deployers  = length(var.deployer_principal_arns) > 0 ? var.deployer_principal_arns : [data.aws_iam_session_context.current.issuer_arn]

  # The code names its SageMaker resources, alarms and lock keys with local.name (the output
  # resource_prefix, its FINDINING_RESOURCE_PREFIX): endpoints, endpoint configs, models and
  # model package groups start with it; training jobs with "findining-". The IAM policies are
  # scoped to these names, so one environment's role cannot touch another's resources.
  training_job_prefix = "findining-"
  endpoint_names      = [for model in var.model_names : "${local.name}-${model}-endpoint"]

  tags = merge(var.tags, {
    Project     = var.project_prefix
    Environment = var.environment
    ManagedBy   = "terraform"
  })
}
