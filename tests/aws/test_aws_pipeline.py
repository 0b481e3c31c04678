"""The pipeline on the aws backend against moto: retraining -> registration -> deployment,
a canary rolled back by its alarm, and a failing DAG run's alert arriving through SNS."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import boto3
from aws_stack import BUCKET, REGION, TOPIC_ARN
from sagemaker_emulation import runs_training_jobs, updates_endpoints
from simulation import SENTIMENT, bootstrap, load_dag

ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"
START = date(2026, 10, 1)


def test_retraining_registers_a_model_package_and_deploys_it_with_capture_and_alarms(aws, sentiment, monkeypatch):
    jobs = runs_training_jobs(monkeypatch)
    version = bootstrap(aws, sentiment, START + timedelta(days=5), "findining-sentiment-job1")
    sm = boto3.client("sagemaker", region_name=REGION)

    [request] = jobs  # one training job, trained where SageMaker writes its output
    assert request["TrainingJobName"] == "findining-sentiment-job1"
    assert aws.store.exists("training/sentiment/findining-sentiment-job1/output/model.tar.gz")

    assert (version.version, version.status) == (1, "Approved") and version.metrics["macro_f1"] > 0.6
    [summary] = sm.list_model_packages(
        ModelPackageGroupName="ai-restaurant-recommendation-sentiment")["ModelPackageSummaryList"]
    package = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "Approved" and package["ModelPackageVersion"] == 1
    properties = package["CustomerMetadataProperties"]
    assert properties["IdempotencyKey"] == properties["TrainingJob"] == "findining-sentiment-job1"
    assert properties["DataSha256"] == version.lineage["data_snapshot"]["sha256"]
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == f"s3://{BUCKET}/registry/sentiment/1/metrics.json"
    [container] = package["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == f"s3://{BUCKET}/models/sentiment/1/model.tar.gz"
    for key in ("models/sentiment/1/model.tar.gz", "registry/sentiment/1/lineage.json",
                "baselines/sentiment/1/reference.parquet", "training/sentiment/findining-sentiment-job1/snapshot.json"):
        assert aws.store.exists(key), key

    # the same registration again (a retried task) is the same version
    again = aws.registry.register(
        "sentiment", version.lineage and "training/sentiment/findining-sentiment-job1/output/model.tar.gz",
        status="Approved", metrics={}, lineage={}, reason="retry", idempotency_key="findining-sentiment-job1")
    assert again.version == 1 and len(aws.registry.list_versions("sentiment")) == 1

    endpoint = aws.endpoints.describe(ENDPOINT)
    assert [(v.variant_name, v.model_version, v.weight) for v in endpoint.variants] == [("sentiment-v1", 1, 1.0)]
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint.config_name)
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == f"s3://{BUCKET}/datacapture"
    alarms = boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == [f"{ENDPOINT}-sentiment-v1-Invocation5XXErrorRate",
                                                      f"{ENDPOINT}-sentiment-v1-ModelLatency"]


def test_a_canary_with_failing_requests_is_rolled_back_by_its_alarm(aws, sentiment, monkeypatch):
    from findining_mlops.deployment import rollout as deployment
    from findining_mlops.deployment.verdict import CanaryThresholds
    from findining_mlops.platform.ports import MetricDatum

    runs_training_jobs(monkeypatch)
    updates = updates_endpoints(monkeypatch)
    bootstrap(aws, sentiment, START + timedelta(days=5), "findining-sentiment-job1")
    bootstrap(aws, sentiment, START + timedelta(days=5), "findining-sentiment-job2")
    rollout = deployment.plan(aws, sentiment, 2, "canary", 10, [10, 100], 0.0, "rollout-1")
    assert aws.endpoints.acquire_deployment_lock(ENDPOINT, "rollout-1") is None
    rollout = deployment.start(aws, rollout)
    canary = aws.endpoints.describe(ENDPOINT)
    assert {v.variant_name: v.weight for v in canary.variants} == {"sentiment-v1": 90.0, "sentiment-v2": 10.0}
    assert len(updates) == 1

    # a look in the very instant the step's bake starts has nothing to judge yet: it keeps baking
    started = datetime.fromisoformat(rollout.step_started)
    assert deployment.bake(aws, sentiment, rollout, CanaryThresholds(), now=started).ending == "baking"

    # what SageMaker records for the challenger while it bakes: half of its requests fail
    dims = {"EndpointName": ENDPOINT, "VariantName": "sentiment-v2"}
    when = started + timedelta(seconds=5)
    aws.metrics.put("AWS/SageMaker", [MetricDatum("Invocations", 40, dims, when, "Count"),
                                      MetricDatum("Invocation5XXErrors", 20, dims, when, "Count"),
                                      MetricDatum("ModelLatency", 30_000, dims, when, "Microseconds")])
    baked = deployment.bake(aws, sentiment, rollout, CanaryThresholds(), now=started + timedelta(minutes=2))
    assert baked.ending == "rollback"
    result = deployment.finish(aws, baked, "rollout-1")
    aws.endpoints.release_deployment_lock(ENDPOINT, "rollout-1")

    assert [v.variant_name for v in aws.endpoints.describe(ENDPOINT).variants] == ["sentiment-v1"]
    rejected = aws.registry.get("sentiment", 2)
    assert rejected.status == "Rejected" and "Invocation5XXErrors" in rejected.status_note
    sm = boto3.client("sagemaker", region_name=REGION)
    [_, second] = sm.list_model_packages(
        ModelPackageGroupName="ai-restaurant-recommendation-sentiment")["ModelPackageSummaryList"]
    assert sm.describe_model_package(ModelPackageName=second["ModelPackageArn"])["ModelApprovalStatus"] == "Rejected"
    [event] = aws.registry.deployment_history("sentiment")
    assert (event["version"], event["event"], event["run"]) == (2, "rolled_back", "rollout-1")
    deployment.finish(aws, baked, "rollout-1")  # a retried finish records nothing twice
    assert len(aws.registry.deployment_history()) == 1
    assert result["outcome"] == "rollback"


def test_a_failing_dag_run_alerts_through_sns_with_run_and_task_details(aws, airflow_db, alerts_queue, use_catalog):
    """model_retraining on the aws backend, asked for a day that has no data."""
    use_catalog(sentiment=SENTIMENT)
    dag = load_dag("model_retraining")
    when = datetime(2026, 10, 21, tzinfo=UTC)
    run = dag.test(logical_date=when, run_after=when,
                   run_conf={"model_name": "sentiment", "reason": "x", "data_end_date": "2026-10-20"})
    assert run.state == "failed"
    [envelope] = alerts_queue()
    assert envelope["TopicArn"] == TOPIC_ARN
    subject, message = envelope["Subject"], envelope["Message"]
    assert len(subject) <= 100 and "model_retraining" in subject and "failed" in subject
    assert "DAG: model_retraining" in message and f"Run: {run.run_id}" in message
    assert "Logical date: 2026-10-21" in message and "State: failed" in message
    assert "Failed task: snapshot" in message and "Log: http" in message
    assert "data/reviews/dt=2026-10-20" in message
