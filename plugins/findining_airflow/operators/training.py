"""Training jobs from Airflow: start once per DAG run, re-attach on retry, wait or defer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseOperator

from findining_airflow.links import TrainingJobLink
from findining_airflow.runtime import PlatformMixin
from findining_airflow.triggers.training import TERMINAL, TrainingJobTrigger

if TYPE_CHECKING:
    from findining_mlops.platform.records import TrainingJobRecord


class TrainingJobOperator(PlatformMixin, BaseOperator):
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

    def execute(self, context) -> TrainingJobRecord:
        from findining_airflow.errors import fail_fast
        from findining_mlops.config.catalog import get_model
        from findining_mlops.training.job import training_spec
        from findining_mlops.training.snapshot import Snapshot

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

    def execute_complete(self, context, event: dict) -> TrainingJobRecord:
        from airflow.sdk.exceptions import AirflowException

        from findining_airflow.errors import fail_fast
        from findining_mlops.errors import TrainingJobFailed

        if event.get("status") == "unreachable":  # not the job's fault: the retry re-attaches to it
            raise AirflowException(f"lost track of training job {event['job_name']}: {event['message']}")
        with fail_fast():
            if event.get("status") == "error":
                raise TrainingJobFailed(event.get("message", "the training trigger failed"))
            return self._finish(event["job_name"])

    def _finish(self, job_name: str) -> TrainingJobRecord:
        from dataclasses import asdict

        from findining_mlops.training.job import check_finished

        job = self.platform.training.describe(job_name)
        logs = self.platform.training.logs(job_name)
        if logs:
            self.log.info("training job %s log:\n%s", job_name, logs[-20000:])
        check_finished(job)
        self.log.info("training job %s completed: %s", job_name, job.metrics)
        return cast("TrainingJobRecord", asdict(job))
