"""Waits for a training job from the triggerer, so a deferred training task holds no worker slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import cached_property
from pathlib import Path

from airflow.triggers.base import BaseTrigger, TriggerEvent

TERMINAL = ("Completed", "Failed", "Stopped")


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

        try:
            return self.hook.describe_training_job(self.job_name)["TrainingJobStatus"]
        except ClientError as exc:
            # SageMaker's answer for a name it does not know; the provider's operators read it so too
            if exc.response["Error"]["Code"] == "ValidationException":
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
