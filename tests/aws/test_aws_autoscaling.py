"""Endpoint auto-scaling: every production variant the pipeline serves is a scalable target
with a target-tracking policy on SageMakerVariantInvocationsPerInstance, within the
environment's min and max (the stack's outputs, written by ``configure``); a variant that
an update retires stops being one before the update, as SageMaker requires."""

from __future__ import annotations

import boto3
import pytest
from aws_stack import BUCKET, REGION
from sagemaker_emulation import updates_endpoints

from findining_mlops.platform.ports import ProductionVariant

ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"


@pytest.fixture
def scaling_settings(monkeypatch):
    """An environment's scaling outputs, as `findining-mlops configure` writes them."""
    for name, value in {"FINDINING_ENDPOINT_MIN_CAPACITY": "1", "FINDINING_ENDPOINT_MAX_CAPACITY": "4",
                        "FINDINING_ENDPOINT_TARGET_INVOCATIONS": "250"}.items():
        monkeypatch.setenv(name, value)


def variant(version: int, weight: float) -> ProductionVariant:
    return ProductionVariant(f"sentiment-v{version}", "sentiment", version,
                             f"s3://{BUCKET}/models/sentiment/{version}/model.tar.gz", weight)


def autoscaling():
    return boto3.client("application-autoscaling", region_name=REGION)


def scaled() -> dict[str, tuple[int, int]]:
    """Variant -> (min, max) of the endpoint's scalable targets."""
    targets = autoscaling().describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    return {t["ResourceId"].rsplit("/", 1)[1]: (t["MinCapacity"], t["MaxCapacity"]) for t in targets
            if t["ResourceId"].startswith(f"endpoint/{ENDPOINT}/variant/")}


def policies() -> dict[str, dict]:
    found = autoscaling().describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    return {p["ResourceId"].rsplit("/", 1)[1]: p for p in found}


def test_each_variant_scales_by_invocations_per_instance_within_the_environment_s_bounds(scaling_settings, aws,
                                                                                         monkeypatch):
    updates_endpoints(monkeypatch)
    aws.endpoints.deploy(ENDPOINT, [variant(1, 1.0)])
    assert scaled() == {"sentiment-v1": (1, 4)}
    [policy] = policies().values()
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 250.0
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"

    aws.endpoints.deploy(ENDPOINT, [variant(1, 90.0), variant(2, 10.0)])  # the canary scales too
    assert scaled() == {"sentiment-v1": (1, 4), "sentiment-v2": (1, 4)}
    assert set(policies()) == {"sentiment-v1", "sentiment-v2"}


def test_variants_stop_scaling_before_an_update_and_the_served_ones_scale_again_after(scaling_settings, aws,
                                                                                      monkeypatch):
    """SageMaker refuses an UpdateEndpoint that removes a variant still registered for scaling."""
    updates_endpoints(monkeypatch)
    aws.endpoints.deploy(ENDPOINT, [variant(1, 90.0), variant(2, 10.0)])
    scaled_at_update = []
    aws.endpoints.clients.sagemaker.meta.events.register(
        "before-call.sagemaker.UpdateEndpoint", lambda **_: scaled_at_update.append(set(scaled())))
    aws.endpoints.deploy(ENDPOINT, [variant(2, 1.0)])  # promoted: v1 retires
    assert scaled_at_update == [set()]
    assert scaled() == {"sentiment-v2": (1, 4)} and set(policies()) == {"sentiment-v2"}

    aws.endpoints.deploy(ENDPOINT, [variant(2, 1.0)])  # re-applied: nothing retires, nothing fails
    assert scaled() == {"sentiment-v2": (1, 4)}


@pytest.mark.parametrize("env, problem", [
    ({"FINDINING_ENDPOINT_MIN_CAPACITY": "3", "FINDINING_ENDPOINT_MAX_CAPACITY": "2"},
     "FINDINING_ENDPOINT_MAX_CAPACITY"),
    ({"FINDINING_ENDPOINT_MIN_CAPACITY": "2", "FINDINING_ENDPOINT_MAX_CAPACITY": "4"},
     "FINDINING_ENDPOINT_INSTANCE_COUNT"),
    ({"FINDINING_ENDPOINT_TARGET_INVOCATIONS": "0"}, "FINDINING_ENDPOINT_TARGET_INVOCATIONS"),
])
def test_scaling_settings_that_contradict_each_other_fail_naming_the_setting(aws_env, env, problem):
    from findining_mlops.config.settings import Settings
    from findining_mlops.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=problem):
        Settings.from_env({**aws_env, **env})
