"""Auto-scaling of each production variant (Application Auto Scaling): a scalable target
between the environment's min and max instances, with a target-tracking policy on
``SageMakerVariantInvocationsPerInstance``. The stack only outputs the numbers; the
variants come and go with every rollout, so the endpoints adapter registers each variant it
serves and deregisters each it retires. SageMaker refuses an ``UpdateEndpoint`` that
removes a variant, or changes its instance type, while the variant is a scalable target
("Update endpoints that use auto scaling" in the SageMaker guide), and scaling waits while
an update runs: so every variant stops scaling before an update and the served ones start
again once it is done."""

from __future__ import annotations

from botocore.exceptions import ClientError

from findining_mlops.config.settings import AwsSettings
from findining_mlops.platform.aws.clients import AwsClients, error_code

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
POLICY_NAME = "invocations-per-instance"
# scale out within a minute of a surge, scale in only after five quiet minutes
SCALE_OUT_COOLDOWN_S, SCALE_IN_COOLDOWN_S = 60, 300


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def scale_variant(clients: AwsClients, settings: AwsSettings, endpoint: str, variant: str) -> None:
    """Registers (or updates: both calls are upserts) the variant's target and policy."""
    target = {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id(endpoint, variant),
              "ScalableDimension": DIMENSION}
    autoscaling = clients.application_autoscaling
    autoscaling.register_scalable_target(**target, MinCapacity=settings.endpoint_min_capacity,
                                         MaxCapacity=settings.endpoint_max_capacity)
    autoscaling.put_scaling_policy(**target, PolicyName=POLICY_NAME, PolicyType="TargetTrackingScaling",
                                   TargetTrackingScalingPolicyConfiguration={
                                       "TargetValue": float(settings.target_invocations_per_instance),
                                       "PredefinedMetricSpecification": {
                                           "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                                       "ScaleOutCooldown": SCALE_OUT_COOLDOWN_S,
                                       "ScaleInCooldown": SCALE_IN_COOLDOWN_S})


def scaled_variants(clients: AwsClients, endpoint: str) -> set[str]:
    """The variants of ``endpoint`` registered as scalable targets."""
    prefix = f"endpoint/{endpoint}/variant/"
    pages = clients.application_autoscaling.get_paginator("describe_scalable_targets").paginate(
        ServiceNamespace=NAMESPACE, ScalableDimension=DIMENSION)
    return {target["ResourceId"][len(prefix):] for page in pages for target in page["ScalableTargets"]
            if target["ResourceId"].startswith(prefix)}


def stop_scaling(clients: AwsClients, endpoint: str, variants: list[str]) -> None:
    """Deletes the variants' policies, then their targets (the order the SageMaker guide gives)."""
    autoscaling = clients.application_autoscaling
    for variant in variants:
        target = {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id(endpoint, variant),
                  "ScalableDimension": DIMENSION}
        try:
            autoscaling.delete_scaling_policy(**target, PolicyName=POLICY_NAME)
        except ClientError as exc:
            if error_code(exc) != "ObjectNotFoundException":  # a retry after the policy went
                raise
        autoscaling.deregister_scalable_target(**target)
