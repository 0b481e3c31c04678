"""The store layout, pinned key by key: the same keys live in every deployed bucket and local
store, so a change to any of them strands what is already written. The expected strings are the
table in ``store.layout``'s docstring, spelled out for sample arguments."""

from __future__ import annotations

import hashlib
import inspect
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from findining_mlops.store import layout

DAY = date(2026, 10, 5)
HONG_KONG = timezone(timedelta(hours=8))
SHA = hashlib.sha256(b"upload:models/sentiment/1.1.0/model.tar.gz:etag-1").hexdigest()

PINNED = {
    "dataset_prefix": (("interactions",), "data/interactions/"),
    "partition_prefix": (("reviews", DAY), "data/reviews/dt=2026-10-05/"),
    "partition_key": (("feedback", DAY), "data/feedback/dt=2026-10-05/part-0.parquet"),
    "table_key": (("restaurants",), "data/restaurants/restaurants.parquet"),
    "capture_prefix": (("ep",), "datacapture/ep/"),
    "capture_day_prefix": (("ep", "AllTraffic", DAY), "datacapture/ep/AllTraffic/2026/10/05/"),
    "capture_hour_prefix": (("ep", "AllTraffic", datetime(2026, 10, 5, 7, tzinfo=UTC)),
                            "datacapture/ep/AllTraffic/2026/10/05/07/"),
    # SageMaker files capture by the UTC hour: 01:30 in Hong Kong is the day before's 17:30 UTC
    "capture_key": (("ep", "v2", datetime(2026, 10, 5, 1, 30, tzinfo=HONG_KONG), "f-1"),
                    "datacapture/ep/v2/2026/10/04/17/f-1.jsonl"),
    "model_artifact_key": (("recommendation", 3), "models/recommendation/3/model.tar.gz"),
    "training_prefix": (("sentiment",), "training/sentiment"),
    "training_job_prefix": (("sentiment", "findining-sentiment-abc"), "training/sentiment/findining-sentiment-abc"),
    "training_output_key": (("training/sentiment/", "job-1"), "training/sentiment/job-1/output/model.tar.gz"),
    "source_bundle_key": (("sentiment", b"bundle"),
                          f"code/sentiment/{hashlib.sha256(b'bundle').hexdigest()[:16]}/sourcedir.tar.gz"),
    "model_check_prefix": (("findining-check-sentiment-upload-0a1b",), "checks/findining-check-sentiment-upload-0a1b"),
    "model_check_key": (("findining-check-sentiment-upload-0a1b", "task.json"),
                        "checks/findining-check-sentiment-upload-0a1b/task.json"),
    "baseline_prefix": (("sentiment", 2), "baselines/sentiment/2"),
    "baseline_key": (("sentiment", 2, "reference.parquet"), "baselines/sentiment/2/reference.parquet"),
    "registry_documents_prefix": (("sentiment", 4), "registry/sentiment/4"),
    "registry_document_key": (("sentiment", 4, "metrics.json"), "registry/sentiment/4/metrics.json"),
    "registration_key": (("sentiment", "upload:models/sentiment/1.1.0/model.tar.gz:etag-1"),
                         f"registry/sentiment/registrations/{SHA}.json"),
    "upload_rejection_key": (("sentiment", "1.1.0", "etag-1"), "uploads/rejected/sentiment/1.1.0/etag-1.json"),
    "monitoring_reports_prefix": (("sentiment",), "reports/sentiment/"),
    "monitoring_report_prefix": (("sentiment", DAY), "reports/sentiment/dt=2026-10-05/"),
    "monitoring_report_key": (("sentiment", DAY, "decision.json"), "reports/sentiment/dt=2026-10-05/decision.json"),
    "alerts_day_prefix": ((DAY,), "reports/alerts/dt=2026-10-05/"),
    "alert_key": ((datetime(2026, 10, 5, 9, 8, 7, 654321, tzinfo=UTC), "msg-1"),
                  "reports/alerts/dt=2026-10-05/090807654321-msg-1.json"),
    "feedback_digest_prefix": ((DAY,), "reports/feedback/dt=2026-10-05/"),
    "feedback_batch_prefix": ((DAY, "job-1"), "feedback/batch/dt=2026-10-05/job-1/"),
    "abtest_prefix": (("t1",), "abtests/t1/"),
    "abtest_definition_key": (("t1",), "abtests/t1/test.json"),
    "abtest_events_prefix": (("t1",), "abtests/t1/events/"),
    "abtest_events_day_prefix": (("t1", DAY), "abtests/t1/events/dt=2026-10-05/"),
    "abtest_event_batch_key": (("t1", DAY, "b1"), "abtests/t1/events/dt=2026-10-05/part-b1.parquet"),
    "abtest_running_users_key": (("t1", DAY), "abtests/t1/users/dt=2026-10-05/running.arrow"),
    "abtest_running_users_prefix": (("t1",), "abtests/t1/users/"),
    "abtest_day_prefix": (("t1", DAY), "abtests/t1/dt=2026-10-05/"),
    "rollout_state_key": (("ep", "r1"), "deployments/ep/r1/state.json"),
    "drill_artifact_key": (("sentiment", 2, ["latency", "errors"]), "drills/sentiment/v2-errors-latency/model.tar.gz"),
}
# functions that read a key rather than build one, pinned below
READERS = {"partition_day", "capture_variant", "capture_day", "model_artifact_of"}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_each_key_is_the_one_the_layout_table_names(name):
    arguments, expected = PINNED[name]
    assert getattr(layout, name)(*arguments) == expected


def test_every_key_function_of_the_layout_is_pinned_here():
    functions = {name for name, value in vars(layout).items()
                 if inspect.isfunction(value) and not name.startswith("_") and value.__module__ == layout.__name__}
    assert functions - READERS == set(PINNED)


def test_the_fixed_prefixes():
    assert (layout.MODELS_PREFIX, layout.REPORTS_PREFIX, layout.ALERTS_PREFIX, layout.ABTESTS_PREFIX) == (
        "models/", "reports/", "reports/alerts/", "abtests/")
    assert layout.DEMO_SUMMARY_KEY == "reports/demo/summary.html"


def test_a_partition_day_is_read_back_from_any_key_under_a_day():
    assert layout.partition_day(layout.partition_key("interactions", DAY)) == DAY
    assert layout.partition_day(layout.abtest_event_batch_key("t1", DAY, "b1")) == DAY
    assert layout.partition_day(layout.table_key("users")) is None


def test_a_capture_file_tells_its_variant_and_utc_day():
    key = layout.capture_key("ep", "v2", datetime(2026, 10, 5, 1, 30, tzinfo=HONG_KONG), "f-1")
    assert (layout.capture_variant(key), layout.capture_day(key)) == ("v2", date(2026, 10, 4))


@pytest.mark.parametrize(("key", "expected"), [
    ("models/recommendation/1.1.0/model.tar.gz", ("recommendation", "1.1.0")),
    ("models/recommendation/3/model.tar.gz", ("recommendation", "3")),
    ("models/recommendation/1.1.0/other.tar.gz", None),
    ("models/recommendation/model.tar.gz", None),
    ("training/sentiment/job/output/model.tar.gz", None),
])
def test_a_model_artifact_key_is_read_back_as_model_and_version(key, expected):
    assert layout.model_artifact_of(key) == expected
