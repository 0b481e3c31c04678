"""S3 store, SNS alerts and CloudWatch metrics of the aws backend, against moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aws_stack import BUCKET

from findining_mlops.errors import ImmutableArtifactError
from findining_mlops.platform.ports import MetricDatum


def test_the_store_keeps_the_local_key_layout_on_s3(aws, tmp_path):
    store = aws.store
    assert store.uri("data/reviews/dt=2026-10-01/part-0.parquet") == f"s3://{BUCKET}/data/reviews/dt=2026-10-01/part-0.parquet"
    store.write_bytes("reports/sentiment/dt=2026-10-01/decision.json", b"{}")
    store.write_bytes("reports/sentiment/dt=2026-10-02/decision.json", b"{}")
    source = tmp_path / "drift.html"
    source.write_text("<html/>")
    store.upload_file(source, "reports/sentiment/dt=2026-10-02/drift.html")
    assert store.list_keys("reports/sentiment/") == ["reports/sentiment/dt=2026-10-01/decision.json",
                                                     "reports/sentiment/dt=2026-10-02/decision.json",
                                                     "reports/sentiment/dt=2026-10-02/drift.html"]
    assert store.exists("reports/sentiment/dt=2026-10-02/drift.html") and not store.exists("reports/nothing")
    assert store.download_file("reports/sentiment/dt=2026-10-02/drift.html",
                               tmp_path / "copy.html").read_text() == "<html/>"
    with pytest.raises(FileNotFoundError, match=f"s3://{BUCKET}/reports/missing.json"):
        store.read_bytes("reports/missing.json")
    store.delete_prefix("reports/sentiment/dt=2026-10-02/")
    assert store.list_keys("reports/") == ["reports/sentiment/dt=2026-10-01/decision.json"]


def test_immutable_artifacts_are_written_once_by_s3_itself(aws, tmp_path):
    aws.store.write_bytes("models/sentiment/1/model.tar.gz", b"v1", immutable=True)
    with pytest.raises(ImmutableArtifactError, match="models/sentiment/1/model.tar.gz already exists"):
        aws.store.write_bytes("models/sentiment/1/model.tar.gz", b"other", immutable=True)
    upload = tmp_path / "model.tar.gz"
    upload.write_bytes(b"other")
    with pytest.raises(ImmutableArtifactError):
        aws.store.upload_file(upload, "models/sentiment/1/model.tar.gz", immutable=True)
    assert aws.store.read_bytes("models/sentiment/1/model.tar.gz") == b"v1"
    aws.store.write_bytes("deployments/e/r/state.json", b"1")
    aws.store.write_bytes("deployments/e/r/state.json", b"2")  # ordinary keys are overwritten
    assert aws.store.read_bytes("deployments/e/r/state.json") == b"2"


def test_an_alert_reaches_a_queue_subscribed_to_the_topic_within_snss_limits(aws, alerts_queue):
    long_subject = "[Find Dining MLOps] model_retraining failed: " + "x" * 200 + "\nsecond line"
    aws.notifications.publish(long_subject, "DAG: model_retraining\nRun: manual__1")
    [envelope] = alerts_queue()
    assert len(envelope["Subject"]) == 100 and "\n" not in envelope["Subject"]
    assert envelope["Subject"].startswith("[Find Dining MLOps] model_retraining failed")
    assert envelope["Message"] == "DAG: model_retraining\nRun: manual__1"


def test_published_alerts_are_read_back_newest_first_from_the_stores_archive(aws, alerts_queue):
    """SNS keeps no history: the adapter archives each message under reports/alerts/ for the state page."""
    ids = [aws.notifications.publish(f"alert {n}", f"message {n}") for n in range(3)]
    recent = aws.notifications.recent(2)
    assert [(a["MessageId"], a["Subject"], a["Message"]) for a in recent] == \
        [(ids[2], "alert 2", "message 2"), (ids[1], "alert 1", "message 1")]
    assert all(k.startswith("reports/alerts/dt=") for k in aws.store.list_keys("reports/alerts/"))
    assert aws.notifications.recent(0) == []


def test_metrics_go_to_cloudwatch_and_come_back_per_minute(aws):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    dims = {"EndpointName": "ai-restaurant-recommendation-sentiment-endpoint", "VariantName": "sentiment-v2"}
    aws.metrics.put("AWS/SageMaker", [MetricDatum("Invocations", 10, dims, now - timedelta(minutes=3), "Count"),
                                      MetricDatum("Invocations", 5, dims, now - timedelta(minutes=3, seconds=-20),
                                                  "Count"),
                                      MetricDatum("Invocations", 7, dims, now - timedelta(minutes=1), "Count"),
                                      MetricDatum("ModelLatency", 2e6, dims, now - timedelta(minutes=1),
                                                  "Microseconds"),
                                      MetricDatum("ModelLatency", 4e6, dims, now - timedelta(minutes=1),
                                                  "Microseconds")])
    # a backfill beyond CloudWatch's 14 days is not published (the reports keep it) instead of failing
    aws.metrics.put("FindDining/ModelMonitoring", [MetricDatum("DriftShare", 0.5, {"Model": "sentiment"},
                                                               now - timedelta(days=20))])
    invocations = aws.metrics.query("AWS/SageMaker", "Invocations", dims, now - timedelta(minutes=5), now)
    assert [p.value for p in invocations] == [15.0, 7.0]  # summed per minute
    latency = aws.metrics.query("AWS/SageMaker", "ModelLatency", dims, now - timedelta(minutes=5), now)
    assert [p.value for p in latency] == [3e6]  # averaged per minute
    assert aws.metrics.query("AWS/SageMaker", "Invocations", {**dims, "VariantName": "other"},
                             now - timedelta(minutes=5), now) == []
    assert aws.metrics.query("FindDining/ModelMonitoring", "DriftShare", {"Model": "sentiment"},
                             now - timedelta(days=21), now) == []
    # an empty window (a bake looked at in the microsecond it started) has no data yet: no CloudWatch error
    assert aws.metrics.query("AWS/SageMaker", "Invocations", dims, now, now) == []
