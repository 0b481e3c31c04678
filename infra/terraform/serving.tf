# Endpoints and their variants belong to the DAGs (a canary changes them every rollout), so
# the stack creates none: it provides the role, key, network and these scaling settings,
# and `terraform apply` never fights a canary. Target tracking on
# SageMakerVariantInvocationsPerInstance keeps each variant between min and max instances.

locals {
  endpoint_autoscaling = {
    min_capacity                    = var.endpoint_min_capacity
    max_capacity                    = var.endpoint_max_capacity
    target_invocations_per_instance = var.target_invocations_per_instance
    predefined_metric_type          = "SageMakerVariantInvocationsPerInstance"
    scale_in_cooldown_seconds       = 300
    scale_out_cooldown_seconds      = 60
  }
}

check "endpoint_capacity" {
  assert {
    condition     = var.endpoint_min_capacity <= var.endpoint_instance_count && var.endpoint_instance_count <= var.endpoint_max_capacity
    error_message = "endpoint_instance_count must lie between endpoint_min_capacity and endpoint_max_capacity."
  }
}

check "sagemaker_name_lengths" {
  assert {
    condition     = alltrue([for name in local.endpoint_names : length(name) <= 63])
    error_message = "An endpoint name (<project_prefix>-<environment>-<model>-endpoint) exceeds SageMaker's 63 characters: shorten project_prefix or the model's name."
  }
}
