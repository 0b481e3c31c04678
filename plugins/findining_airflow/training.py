"""Training jobs from Airflow: start once per DAG run, re-attach on retry, wait or defer."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from collections.abc import AsyncIterator, Sequence

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from findining_airflow.links import TrainingJobLink

TERMINAL = ("Completed", "Failed", "Stopped")


class TrainingJobOperator(BaseOperator):
    """Runs the model's training entry point as a training job (a SageMaker training job on
    the ``aws`` backend, a subprocess under the same contract locally).

    The job name comes from the snapshot, which derives it from the DAG run: a retried task
    finds the job already running or finished and attaches to it, never starting a second.

    :param model_name: a model of the catalog.
    :param snapshot: the ``snapshot_training_data`` result (channels and job name).
    :param hyperparameters: overrides of the catalog's hyperparameters.
    :param poll_interval: seconds between status checks.
    :param max_wait: give up waiting after this long (the job keeps its state).
    :param deferrable: wait in the triggerer instead of holding a worker slot; by default
        (None) the backend decides: ``FINDINING_DEFER_WAITS``, on for ``aws``, off for ``local``.
    """

    template_fields: Sequence[str] = ("model_name", "snapshot", "hyperparameters")
    ui_color = "#ff9900"
    operator_extra_links = (TrainingJobLink(),)

    def __init__(self, *, model_name: str, snapshot: Any, hyperparameters: dict | None = None,
                 poll_interval: float = 5.0, max_wait: timedelta = timedelta(hours=6), deferrable: bool | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.model_name = model_name
        self.snapshot = snapshot
        self.hyperparameters = hyperparameters or {}
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self.deferrable = deferrable

    @cached_property
    def platform(self):
        from findining_airflow.runtime import platform

        return platform()

    def execute(self, context) -> dict:
        from findining_airflow.errors import fail_fast
        from findining_mlops.catalog import get_model
        from findining_mlops.retraining import Snapshot, training_spec

        with fail_fast():
            spec = training_spec(get_model(self.model_name), Snapshot(**self.snapshot), self.hyperparameters)
            existing = self.platform.training.describe(spec.name)
            job = self.platform.training.start(spec)
            verb = "re-attached to" if existing else "started"
            self.log.info("%s training job %s (%s), entry point %s", verb, job.name, job.status, spec.entry_point)
            if job.status in TERMINAL:
                return self._finish(job.name)
            if self._defers():
                self.defer(trigger=self._trigger(job.name), method_name="execute_complete", timeout=self.max_wait)
            deadline = time.monotonic() + self.max_wait.total_seconds()
            while True:
                job = self.platform.training.describe(job.name)
                if job.status in TERMINAL:
                    return self._finish(job.name)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"training job {job.name} still {job.status} after {self.max_wait}")
                self.log.info("training job %s is %s", job.name, job.status)
                time.sleep(self.poll_interval)

    def _defers(self) -> bool:
        if self.deferrable is not None:
            return self.deferrable
        from findining_airflow.runtime import settings

        return settings().defer_waits

    def _trigger(self, job_name: str) -> TrainingJobTrigger:
        """The trigger, told here where the job runs: it reads no Variables in the triggerer."""
        from findining_airflow.runtime import settings

        current = settings()
        if current.aws:
            return TrainingJobTrigger(job_name=job_name, poll_interval=self.poll_interval,
                                      aws_conn_id=current.aws.conn_id, region_name=current.aws.region)
        return TrainingJobTrigger(job_name=job_name, poll_interval=self.poll_interval, local_home=str(current.home))

    def execute_complete(self, context, event: dict) -> dict:
        from airflow.sdk.exceptions import AirflowException

        from findining_airflow.errors import fail_fast
        from findining_mlops.errors import TrainingJobFailed

        if event.get("status") == "unreachable":  # not the job's fault: the retry re-attaches to it
            raise AirflowException(f"lost track of training job {event['job_name']}: {event['message']}")
        with fail_fast():
            if event.get("status") == "error":
                raise TrainingJobFailed(event.get("message", "the training trigger failed"))
            return self._finish(event["job_name"])

    def _finish(self, job_name: str) -> dict:
        from dataclasses import asdict

        from findining_mlops.retraining import check_finished

        job = self.platform.training.describe(job_name)
        logs = self.platform.training.logs(job_name)
        if logs:
            self.log.info("training job %s log:\n%s", job_name, logs[-20000:])
        check_finished(job)
        self.log.info("training job %s completed: %s", job_name, job.metrics)
        return asdict(job)


class TrainingJobTrigger(BaseTrigger):
    """Polls a training job from the triggerer until it reaches a terminal state.

    Everything it needs comes from the operator, serialized: on ``aws`` the connection and
    region to poll SageMaker with (the provider's ``SageMakerHook``), on ``local`` the backend's
    home. A poll that fails (throttling, a network fault) is logged and tried again at the
    next interval; only ``max_poll_errors`` failures in a row end the wait, as a retryable
    error, and the retried task re-attaches to the job, which kept running meanwhile.

    The provider's async client needs aiobotocore, whose releases pin a botocore older than
    the project's; so each poll runs the hook's blocking call in a worker thread, off the
    triggerer's event loop.
    """

    def __init__(self, job_name: str, poll_interval: float = 5.0, *, aws_conn_id: str | None = None,
                 region_name: str | None = None, local_home: str | None = None, max_poll_errors: int = 10):
        super().__init__()
        if (aws_conn_id is None) == (local_home is None):
            raise ValueError("TrainingJobTrigger polls either SageMaker (aws_conn_id) "
                             "or the local backend (local_home)")
        self.job_name = job_name
        self.poll_interval = poll_interval
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.local_home = local_home
        self.max_poll_errors = max_poll_errors

    def serialize(self) -> tuple[str, dict]:
        return (f"{type(self).__module__}.{type(self).__name__}",
                {"job_name": self.job_name, "poll_interval": self.poll_interval, "aws_conn_id": self.aws_conn_id,
                 "region_name": self.region_name, "local_home": self.local_home,
                 "max_poll_errors": self.max_poll_errors})

    @cached_property
    def hook(self):
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        return SageMakerHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    @cached_property
    def _local_training(self):
        from findining_mlops.platform.local import local_platform

        return local_platform(Path(self.local_home)).training

    def _status(self) -> str | None:
        """The job's status; None if there is no such job (blocking: runs in a thread)."""
        if self.local_home is not None:
            job = self._local_training.describe(self.job_name)
            return job.status if job else None
        from botocore.exceptions import ClientError

        from findining_mlops.platform.aws.clients import not_found

        try:
            return self.hook.describe_training_job(self.job_name)["TrainingJobStatus"]
        except ClientError as exc:
            if not_found(exc):
                return None
            raise

    async def run(self) -> AsyncIterator[TriggerEvent]:
        errors = 0
        while True:
            try:
                status = await asyncio.to_thread(self._status)
            except Exception as exc:  # throttled or unreachable: the job runs on regardless
                errors += 1
                message = f"{type(exc).__name__}: {exc}"
                if errors >= self.max_poll_errors:
                    yield TriggerEvent({"status": "unreachable", "job_name": self.job_name,
                                        "message": f"{errors} polls in a row failed, the last with {message}"})
                    return
                self.log.warning("polling training job %s failed (%d of %d in a row): %s",
                                 self.job_name, errors, self.max_poll_errors, message)
            else:
                errors = 0
                if status is None:
                    yield TriggerEvent({"status": "error", "job_name": self.job_name,
                                        "message": f"training job {self.job_name} does not exist"})
                    return
                if status in TERMINAL:
                    yield TriggerEvent({"status": "done", "job_name": self.job_name})
                    return
                self.log.info("training job %s is %s", self.job_name, status)
            await asyncio.sleep(self.poll_interval)
