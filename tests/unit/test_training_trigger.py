"""The training trigger on the local backend: it polls the job records under the home the
operator handed it, never the task's settings."""

from __future__ import annotations

import asyncio

import pytest


def events(trigger) -> list[dict]:
    async def collect() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def test_the_local_trigger_reports_a_job_that_does_not_exist_under_its_home(tmp_path, monkeypatch):
    from findining_airflow.triggers.training import TrainingJobTrigger

    monkeypatch.setenv("FINDINING_BACKEND", "no-such-backend")  # the trigger never reads the settings
    trigger = TrainingJobTrigger("findining-sentiment-none", 0, local_home=str(tmp_path))

    [event] = events(trigger)
    assert event == {"status": "error", "job_name": "findining-sentiment-none",
                     "message": "training job findining-sentiment-none does not exist"}


def test_the_trigger_polls_one_backend():
    from findining_airflow.triggers.training import TrainingJobTrigger

    with pytest.raises(ValueError, match="either SageMaker"):
        TrainingJobTrigger("job", 1, aws_conn_id="aws_default", local_home="/tmp/x")
