"""The wait between a failed task's tries is a setting, ``FINDINING_RETRY_DELAY_SECONDS``:
20 s by default, 0 in the tests so that a run which retries does not sit out the delays."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_every_task_of_every_dag_waits_the_configured_delay_between_tries(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("FINDINING_RETRY_DELAY_SECONDS", "7.5")
    dagbag = DagBag(dag_folder=str(DAGS))
    assert dagbag.import_errors == {} and dagbag.dags
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert task.retry_delay == timedelta(seconds=7.5), f"{dag_id}.{task.task_id} waits {task.retry_delay}"


def test_the_delay_is_twenty_seconds_unless_set(monkeypatch):
    from findining_airflow.notifications import default_args

    monkeypatch.delenv("FINDINING_RETRY_DELAY_SECONDS", raising=False)
    assert default_args()["retry_delay"] == timedelta(seconds=20)


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_malformed_delay_is_refused_by_name(monkeypatch, value):
    from findining_airflow.notifications import default_args
    from findining_mlops.errors import ConfigurationError

    monkeypatch.setenv("FINDINING_RETRY_DELAY_SECONDS", value)
    with pytest.raises(ConfigurationError, match=f"FINDINING_RETRY_DELAY_SECONDS={value!r}"):
        default_args()
