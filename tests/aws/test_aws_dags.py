"""The unchanged DAGs on the aws backend against moto, through Airflow (``dag.test``):
retraining defers its training job to the triggerer and registers, baselines and deploys
the model; a re-run of the same DAG run starts nothing twice; a deployment submits each
endpoint change and the bake sensor, rescheduled, waits it out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from aws_stack import BUCKET, REGION
from sagemaker_emulation import runs_training_jobs, updates_endpoints
from simulation import bootstrap, load_dag, reschedules

ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"
GROUP = "ai-restaurant-recommendation-sentiment"
START = date(2026, 10, 1)


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db")]


@pytest.fixture
def triggers(monkeypatch) -> list[str]:
    """The training jobs TrainingJobTrigger polled (dag.test runs triggers in-process)."""
    from findining_airflow.triggers.training import TrainingJobTrigger

    polled: list[str] = []
    run = TrainingJobTrigger.run

    def recorded(self):
        polled.append(self.job_name)
        return run(self)

    monkeypatch.setattr(TrainingJobTrigger, "run", recorded)
    return polled


def sagemaker():
    return boto3.client("sagemaker", region_name=REGION)


def alarm_names() -> list[str]:
    return sorted(a["AlarmName"]
                  for a in boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"])


def test_retraining_defers_training_registers_and_deploys_and_a_re_run_starts_nothing_twice(
        aws, sentiment, triggers, monkeypatch):
    jobs = runs_training_jobs(monkeypatch)
    dag = load_dag("model_retraining")
    dag.get_task("train").poll_interval = 0.2
    when = datetime(2026, 10, 7, tzinfo=UTC)
    conf = {"model_name": "sentiment", "reason": "first model", "data_end_date": "2026-10-06"}

    run = dag.test(logical_date=when, run_after=when, run_conf=conf)

    assert run.state == "success"
    [request] = jobs
    job = request["TrainingJobName"]
    assert job.startswith("findining-sentiment-")
    assert triggers == [job]  # the train task deferred; the trigger followed the job by name
    [package_summary] = sagemaker().list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    package = sagemaker().describe_model_package(ModelPackageName=package_summary["ModelPackageArn"])
    assert (package["ModelPackageGroupName"], package["ModelPackageVersion"], package["ModelApprovalStatus"]) == (
        GROUP, 1, "Approved")
    properties = package["CustomerMetadataProperties"]
    assert properties["TrainingJob"] == properties["IdempotencyKey"] == job
    assert properties["DagRun"] == f"model_retraining/{run.run_id}"
    assert properties["MetricsUri"] == f"s3://{BUCKET}/registry/sentiment/1/metrics.json"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == properties["MetricsUri"]
    [container] = package["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == f"s3://{BUCKET}/models/sentiment/1/model.tar.gz"
    for key in (f"training/sentiment/{job}/snapshot.json", f"training/sentiment/{job}/output/model.tar.gz",
                "models/sentiment/1/model.tar.gz", "registry/sentiment/1/lineage.json",
                "baselines/sentiment/1/reference.parquet"):
        assert aws.store.exists(key), key

    # bootstrap: the new endpoint serves v1 alone, with data capture and its two alarms
    endpoint = sagemaker().describe_endpoint(EndpointName=ENDPOINT)
    config = sagemaker().describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    [variant] = config["ProductionVariants"]
    assert (variant["VariantName"], variant["InitialVariantWeight"]) == ("sentiment-v1", 1.0)
    model = sagemaker().describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]
    assert model["ModelDataUrl"] == f"s3://{BUCKET}/models/sentiment/1/model.tar.gz"
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] and capture["DestinationS3Uri"] == f"s3://{BUCKET}/datacapture"
    assert alarm_names() == [f"{ENDPOINT}-sentiment-v1-Invocation5XXErrorRate", f"{ENDPOINT}-sentiment-v1-ModelLatency"]

    # the same DAG run again (a cleared run): it re-attaches to the finished job, registers nothing new
    again = dag.test(logical_date=when, run_after=when, run_conf=conf)
    assert again.state == "success" and again.run_id == run.run_id
    assert [j["TrainingJobName"] for j in sagemaker().list_training_jobs()["TrainingJobSummaries"]] == [job]
    assert len(jobs) == 1 and triggers == [job]  # Completed: nothing left to wait for
    assert len(sagemaker().list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]) == 1


def test_a_deployment_submits_endpoint_changes_and_the_bake_sensor_waits_them_out(aws, sentiment, monkeypatch):
    runs_training_jobs(monkeypatch)
    bootstrap(aws, sentiment, START + timedelta(days=5), "findining-sentiment-job1")
    bootstrap(aws, sentiment, START + timedelta(days=5), "findining-sentiment-job2")
    updates = updates_endpoints(monkeypatch, describes=3)  # each update is seen Updating three times
    dag = load_dag("model_deployment")
    dag.get_task("bake").poke_interval = 0.5
    when = datetime(2026, 11, 1, tzinfo=UTC)

    run = dag.test(logical_date=when, run_after=when, run_conf={
        "model_name": "sentiment", "version": 2, "strategy": "all_at_once", "bake_minutes": 0})

    assert run.state == "success"
    started = run.get_task_instance("start").xcom_pull(task_ids="start")
    assert started["pending"]  # start submitted the update and returned while SageMaker was updating
    assert reschedules(run, "bake") >= 1  # the sensor gave its slot back while the endpoint was updating
    # v1 -> {v1 0 %, v2 100 %} -> {v2}: two updates, the second settled by the sensor before finish
    assert len(updates) == 2
    endpoint = aws.endpoints.describe(ENDPOINT)
    assert (endpoint.status,
            [(v.variant_name, v.weight) for v in endpoint.variants]) == ("InService", [("sentiment-v2", 1.0)])
    assert alarm_names() == [f"{ENDPOINT}-sentiment-v2-Invocation5XXErrorRate", f"{ENDPOINT}-sentiment-v2-ModelLatency"]
    [event] = aws.registry.deployment_history("sentiment")
    assert (event["version"], event["event"]) == (2, "promoted")
