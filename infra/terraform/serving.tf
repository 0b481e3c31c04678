# Endpoints and their variants belong to the DAGs (a canary changes them every rollout), so
# the stack creates none: it provides the role, key, network and the scaling settings
# (outputs endpoint_min_capacity, endpoint_max_capacity, target_invocations_per_instance),
# and `terraform apply` never fights a canary. The endpoints adapter registers each variant
# it serves for target tracking on SageMakerVariantInvocationsPerInstance between min and
# max instances (findining_mlops.platform.aws.scaling) and deregisters each it retires.

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
