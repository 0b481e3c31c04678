"""SageMaker endpoints: configs with production variants and data capture, per-variant
alarms, weights, invoke, the deployment lock, and an update SageMaker rolled back."""

from __future__ import annotations

import boto3
import pytest
from aws_stack import BUCKET, KEY_ARN, REGION, SECURITY_GROUPS, SERVING_ROLE_ARN, SUBNETS, TOPIC_ARN
from botocore.stub import ANY, Stubber
from sagemaker_emulation import updates_endpoints

from findining_mlops.errors import EndpointError
from findining_mlops.platform.ports import ProductionVariant

ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"


def variant(version: int, weight: float) -> ProductionVariant:
    return ProductionVariant(f"sentiment-v{version}", "sentiment", version,
                             f"s3://{BUCKET}/models/sentiment/{version}/model.tar.gz", weight)


def sagemaker():
    return boto3.client("sagemaker", region_name=REGION)


def alarm_names() -> list[str]:
    return sorted(a["AlarmName"]
                  for a in boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"])


def test_a_new_endpoint_gets_a_config_with_capture_and_alarms_per_variant(aws):
    endpoint = aws.endpoints.deploy(ENDPOINT, [variant(1, 1.0)])
    assert endpoint.status == "InService"
    assert [(v.variant_name, v.model_version, v.artifact_uri, v.weight) for v in endpoint.variants] == [
        ("sentiment-v1", 1, f"s3://{BUCKET}/models/sentiment/1/model.tar.gz", 1.0)]
    config = sagemaker().describe_endpoint_config(EndpointConfigName=endpoint.config_name)
    [production] = config["ProductionVariants"]
    assert (production["InstanceType"], production["InitialInstanceCount"]) == ("ml.m5.large", 1)
    capture = config["DataCaptureConfig"]
    assert capture["DestinationS3Uri"] == f"s3://{BUCKET}/datacapture" and capture["InitialSamplingPercentage"] == 100
    model = sagemaker().describe_model(ModelName=production["ModelName"])["PrimaryContainer"]
    assert model["ModelDataUrl"] == f"s3://{BUCKET}/models/sentiment/1/model.tar.gz"
    assert model["Image"].endswith("sagemaker-scikit-learn:1.9-0-cpu-py3")
    assert model["Environment"]["SAGEMAKER_PROGRAM"] == "findining_serve.py"
    alarms = {a["AlarmName"]: a
              for a in boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"]}
    latency = alarms[f"{ENDPOINT}-sentiment-v1-ModelLatency"]
    assert (latency["MetricName"], latency["Threshold"], latency["AlarmActions"]) == ("ModelLatency", 5_000_000,
                                                                                      [TOPIC_ARN])
    errors = alarms[f"{ENDPOINT}-sentiment-v1-Invocation5XXErrorRate"]
    assert errors["Threshold"] == 0.05 and {m["Id"] for m in errors["Metrics"]} == {"errors", "invocations", "rate"}
    again = aws.endpoints.deploy(ENDPOINT, [variant(1, 1.0)])  # re-applied: nothing new
    assert again.config_name == endpoint.config_name \
        and len(sagemaker().list_endpoint_configs()["EndpointConfigs"]) == 1


def test_a_model_runs_network_isolated_as_the_serving_role_with_its_code_handed_in_by_sagemaker(aws):
    """The request as botocore sends it (checked against the service model before it leaves)."""
    sent = []
    aws.endpoints.clients.sagemaker.meta.events.register(
        "provide-client-params.sagemaker.CreateModel", lambda params, **_: sent.append(params))
    endpoint = aws.endpoints.deploy(ENDPOINT, [variant(1, 1.0)])
    [model] = sent
    assert model["EnableNetworkIsolation"] is True and model["ExecutionRoleArn"] == SERVING_ROLE_ARN
    assert model["VpcConfig"] == {"Subnets": list(SUBNETS), "SecurityGroupIds": list(SECURITY_GROUPS)}
    container = model["PrimaryContainer"]
    [code] = container["AdditionalModelDataSources"]
    source = code["S3DataSource"]
    assert source["S3Uri"].startswith(f"s3://{BUCKET}/code/sentiment/") and source["S3Uri"].endswith(
        "/sourcedir.tar.gz")
    assert (source["S3DataType"], source["CompressionType"]) == ("S3Object", "Gzip")  # SageMaker unpacks it
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == \
        f"/opt/ml/additional-model-data-sources/{code['ChannelName']}"
    config = sagemaker().describe_endpoint_config(EndpointConfigName=endpoint.config_name)
    assert config["KmsKeyId"] == config["DataCaptureConfig"]["KmsKeyId"] == KEY_ARN


def test_a_canary_update_adds_a_variant_then_weights_move_and_the_old_one_retires(aws, monkeypatch):
    updates = updates_endpoints(monkeypatch)
    aws.endpoints.deploy(ENDPOINT, [variant(1, 1.0)])
    canary = aws.endpoints.deploy(ENDPOINT, [variant(1, 90.0), variant(2, 10.0)])
    assert [(v.variant_name, v.weight) for v in canary.variants] == [("sentiment-v1", 90.0), ("sentiment-v2", 10.0)]
    assert updates[-1]["EndpointConfigName"] == canary.config_name
    ramped = aws.endpoints.update_weights(ENDPOINT, {"sentiment-v2": 50.0, "sentiment-v1": 50.0})
    assert {v.variant_name: v.weight for v in ramped.variants} == {"sentiment-v1": 50.0, "sentiment-v2": 50.0}
    with pytest.raises(EndpointError, match=r"no variant\(s\) \['sentiment-v9'\]"):
        aws.endpoints.update_weights(ENDPOINT, {"sentiment-v9": 1.0})
    assert len(alarm_names()) == 4
    promoted = aws.endpoints.deploy(ENDPOINT, [variant(2, 1.0)])
    assert [v.variant_name for v in promoted.variants] == ["sentiment-v2"]
    assert alarm_names() == [f"{ENDPOINT}-sentiment-v2-Invocation5XXErrorRate", f"{ENDPOINT}-sentiment-v2-ModelLatency"]
    assert [e.name for e in aws.endpoints.list_endpoints()] == [ENDPOINT]


def test_an_update_that_sagemaker_rolled_back_is_an_error(aws):
    """Stubber checks UpdateEndpoint against the service model (moto lacks it); SageMaker
    updates, then reports InService on the old config with the reason."""
    aws.endpoints.deploy(ENDPOINT, [variant(1, 1.0)])
    old = sagemaker().describe_endpoint(EndpointName=ENDPOINT)
    client = aws.endpoints.clients.sagemaker
    real = {"describe_model": client.describe_model, "describe_endpoint_config": client.describe_endpoint_config}
    for response in (old,):
        response.pop("ResponseMetadata", None)
    in_service = {k: old[k] for k in ("EndpointName", "EndpointArn", "EndpointConfigName", "EndpointStatus",
                                      "CreationTime", "LastModifiedTime")}
    in_service["FailureReason"] = ("The primary container for production variant sentiment-v2 "
                                   "did not pass the ping health check.")
    old_config = real["describe_endpoint_config"](EndpointConfigName=old["EndpointConfigName"])
    v1_model = old_config["ProductionVariants"][0]["ModelName"]
    v1_description = real["describe_model"](ModelName=v1_model)
    for response in (old_config, v1_description):  # moto's extras the real output shape lacks
        for key in [k for k, v in response.items() if k == "ResponseMetadata" or v in ({}, [], None)]:
            response.pop(key)
    with Stubber(client) as stub:
        stub.add_response("describe_model", v1_description, {"ModelName": v1_model})
        stub.add_client_error("describe_model", "ValidationException", "Could not find model")
        stub.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:123456789012:model/m2"})  # v2
        stub.add_client_error("describe_endpoint_config", "ValidationException",
                              "Could not find endpoint configuration")
        stub.add_response("create_endpoint_config",
                          {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint-config/c"})
        stub.add_response("describe_endpoint", {**in_service, "FailureReason": "an earlier update"},
                          {"EndpointName": ENDPOINT})
        stub.add_response("update_endpoint", {"EndpointArn": old["EndpointArn"]},
                          {"EndpointName": ENDPOINT, "EndpointConfigName": ANY})
        stub.add_response("describe_endpoint", {**in_service, "EndpointStatus": "Updating"}, {"EndpointName": ENDPOINT})
        for _ in range(4):  # the waiter, its result, then settling: which variants does it serve now?
            stub.add_response("describe_endpoint", in_service, {"EndpointName": ENDPOINT})
        stub.add_response("describe_endpoint_config", old_config, {"EndpointConfigName": old["EndpointConfigName"]})
        stub.add_response("describe_model", v1_description, {"ModelName": v1_model})
        with pytest.raises(EndpointError, match="SageMaker rolled the update back .*ping health check"):
            aws.endpoints.deploy(ENDPOINT, [variant(1, 90.0), variant(2, 10.0)])
        stub.assert_no_pending_responses()


def test_invoke_targets_a_variant_and_the_lock_names_its_holder(aws):
    aws.endpoints.deploy(ENDPOINT, [variant(1, 1.0)])
    answer = aws.endpoints.invoke(ENDPOINT, b'{"text": "good"}', target_variant="sentiment-v1", inference_id="req-1")
    assert answer.inference_id == "req-1" and answer.body  # moto's canned answer
    assert aws.endpoints.acquire_deployment_lock(ENDPOINT, "run-a") is None
    assert aws.endpoints.acquire_deployment_lock(ENDPOINT, "run-a") is None  # the holder again (a retry)
    assert aws.endpoints.acquire_deployment_lock(ENDPOINT, "run-b") == "run-a"
    aws.endpoints.release_deployment_lock(ENDPOINT, "run-b")  # not the holder: nothing happens
    aws.endpoints.release_deployment_lock(ENDPOINT, "run-a")
    assert aws.endpoints.acquire_deployment_lock(ENDPOINT, "run-b") is None
    assert aws.endpoints.describe("ai-restaurant-recommendation-nothing-endpoint") is None
