"""Report paths and the task "Reports" link."""

from collections import namedtuple
from datetime import date

import pytest

from findining_airflow.links import StoreReportsLink, reports_key
from findining_airflow.reports import (
    UnreadableKey,
    readable_key,
    run_id_day,
    sagemaker_training_job_url,
    view_url,
)
from findining_mlops.config.catalog import model_names
from findining_mlops.store.layout import monitoring_report_prefix

TaskInstanceKey = namedtuple("TaskInstanceKey", "dag_id task_id run_id try_number map_index")


@pytest.mark.parametrize("path", ["reports/../models/x", "models/x", "/reports/x", "reports\\..\\x", "reports//x",
                                  "reports/./x", "", "reports/x\x00", "..", "abtests/.."])
def test_readable_key_refuses_paths_that_leave_the_report_prefixes(path):
    with pytest.raises(UnreadableKey):
        readable_key(path)


def test_readable_key_keeps_folders_and_files():
    assert readable_key("reports") == "reports/"
    assert readable_key("abtests/t1/") == "abtests/t1/"
    assert readable_key("reports/m/dt=2026-10-05/drift.html") == "reports/m/dt=2026-10-05/drift.html"


@pytest.mark.parametrize("run_id, day", [
    ("scheduled__2026-10-05T00:00:00+00:00", date(2026, 10, 5)),
    ("backfill__2026-10-06T00:00:00+00:00", date(2026, 10, 6)),
    ("manual__2026-10-07T09:00:00+00:00", None),
    ("monitoring__sentiment__2026-10-05", None),
])
def test_run_id_day_only_trusts_dated_runs(run_id, day):
    assert run_id_day(run_id) == day


def test_monitoring_tasks_link_to_their_models_day():
    index = model_names().index("sentiment")
    key, query = reports_key("model_monitoring", "analyze", "backfill__2026-10-05T00:00:00+00:00", index)
    assert key == monitoring_report_prefix("sentiment", date(2026, 10, 5))
    assert query == {}
    assert reports_key("model_monitoring", "decide", "manual__2026-10-07T09:00:00+00:00", index)[0] == \
        "reports/sentiment/"


def test_ab_analysis_links_to_the_days_analyses_and_other_tasks_get_none():
    assert reports_key("ab_test_analysis", "analyze", "scheduled__2026-10-05T00:00:00+00:00", 0) == \
        ("abtests/", {"day": "2026-10-05"})
    assert reports_key("model_monitoring", "analyze", "scheduled__2026-10-05T00:00:00+00:00", 99) is None
    assert reports_key("model_deployment", "plan", "manual__x", -1) is None


def test_the_link_is_an_absolute_url_of_the_view(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080")
    ti_key = TaskInstanceKey("ab_test_analysis", "analyze", "scheduled__2026-10-05T00:00:00+00:00", 1, 0)
    assert StoreReportsLink().get_link(None, ti_key=ti_key) == \
        "http://127.0.0.1:8080/findining/files/abtests/?day=2026-10-05"
    assert StoreReportsLink().get_link(None, ti_key=ti_key._replace(dag_id="other")) == ""


def test_view_url_quotes_keys_and_refuses_unreadable_ones():
    assert view_url("http://h/", "reports/a b/") == "http://h/findining/files/reports/a%20b/"
    with pytest.raises(UnreadableKey):
        view_url("http://h", "models/x")


def test_sagemaker_console_url():
    assert sagemaker_training_job_url("eu-west-1", "sentiment-job-1") == \
        "https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1#/jobs/sentiment-job-1"


def test_training_operator_links_to_its_sagemaker_job_on_aws_and_its_model_page_locally(monkeypatch):
    from types import SimpleNamespace

    from findining_airflow import runtime
    from findining_airflow.links import TrainingJobLink
    from findining_airflow.operators.training import TrainingJobOperator
    from findining_mlops.training.job import training_job_name

    operator = TrainingJobOperator(task_id="train", model_name="sentiment", snapshot={})
    assert any(isinstance(link, TrainingJobLink) for link in operator.operator_extra_links)
    ti_key = TaskInstanceKey("model_retraining", "train", "manual__2026-10-05T09:00:00+00:00", 1, -1)
    aws = SimpleNamespace(backend="aws", aws=SimpleNamespace(region="ap-east-1"))
    monkeypatch.setattr(runtime, "settings", lambda: aws)
    job = training_job_name("sentiment", ti_key.dag_id, ti_key.run_id)
    assert TrainingJobLink().get_link(operator, ti_key=ti_key) == sagemaker_training_job_url("ap-east-1", job)
    monkeypatch.setattr(runtime, "settings", lambda: SimpleNamespace(backend="local"))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080")
    assert TrainingJobLink().get_link(operator, ti_key=ti_key) == "http://127.0.0.1:8080/findining/models/sentiment"
