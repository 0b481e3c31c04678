"""Alerts to the platform's alerts topic (SNS on AWS, ``alerts.log`` locally): DAG run status,
and the words of the DAGs' key events (one function per kind). Imports stay inside the
functions so parsing a DAG never loads boto3.

A failed task alerts from its worker, where the error is known (``alert_on_task_failure``,
in every DAG's ``default_args``); the DAG-level callback covers runs that fail without a
failed task (deadlock, timeout), so one failure is one message."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
SUBJECT_LIMIT = 100  # SNS rejects longer subjects


def subject(state: str, dag_id: str, detail: str = "") -> str:
    text = f"[Find Dining MLOps] {dag_id} {state}" + (f": {detail}" if detail else "")
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"


def run_status_message(context: dict, state: str) -> tuple[str, str]:
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or context.get("dag_id", "unknown")
    dag_run = context.get("dag_run")
    run_id = context.get("run_id") or getattr(dag_run, "run_id", "unknown")
    logical_date = getattr(dag_run, "logical_date", None) or context.get("logical_date")
    ti = context.get("ti") or context.get("task_instance")
    lines = [
        f"DAG: {dag_id}",
        f"Run: {run_id}",
        f"Logical date: {logical_date}",
        f"State: {state}",
    ]
    if context.get("reason"):
        lines.append(f"Reason: {context['reason']}")
    failed_tasks = ([ti] if ti is not None else _failed_tasks(dag_run)) if state == "failed" else []
    for failed in failed_tasks:
        lines.append(f"Failed task: {failed.task_id} (try {getattr(failed, 'try_number', '?')})")
        log_url = getattr(failed, "log_url", None)
        if log_url:
            lines.append(f"Log: {log_url}")
    exception = context.get("exception")
    if exception is not None:
        lines.append(f"Error: {exception}")
    # the model, not the whole Params: a form may carry what an alert must not
    model_name = (context.get("params") or {}).get("model_name")
    if model_name:
        lines.append(f"Model: {model_name}")
    detail = getattr(ti, "task_id", "") if ti is not None and state == "failed" else ""
    return subject(state, dag_id, detail), "\n".join(lines)


def _failed_tasks(dag_run) -> list:
    """A DAG-level callback has no task instance of its own: the run's failed ones."""
    try:
        return list(dag_run.get_task_instances(state=["failed", "upstream_failed"]))
    except Exception:  # a context without a queryable run (e.g. built by hand) lists none
        return []


def alert_on_task_failure(context: dict) -> None:
    """Task ``on_failure_callback``: after the last retry, with the error."""
    from findining_airflow.runtime import platform

    title, message = run_status_message(context, "failed")
    platform().notifications.publish(title, message)


def alert_on_dag_failure(context: dict) -> None:
    """DAG ``on_failure_callback``: a run that failed for a reason other than a task."""
    if context.get("reason") == "task_failure":
        return  # already alerted by the failed task itself
    from findining_airflow.runtime import platform

    title, message = run_status_message(context, "failed")
    platform().notifications.publish(title, message)


def alert_on_dag_success(context: dict) -> None:
    """DAG ``on_success_callback``: a success message for the DAGs named in the setting
    ``FINDINING_ALERT_ON_SUCCESS`` (Variable ``findining_alert_on_success``; comma-separated
    DAG ids, or ``all``). Off by default: on-call reads failures and key events."""
    from findining_airflow.runtime import alert_on_success, platform

    dag_id = getattr(context.get("dag"), "dag_id", None) or context.get("dag_id", "")
    if alert_on_success(dag_id):
        title, message = run_status_message(context, "succeeded")
        platform().notifications.publish(title, message)


def publish_event(title: str, message: str) -> None:
    """Key events (retraining triggered, canary rolled back, A/B test concluded); the functions
    below word the DAGs' events, one per kind."""
    from findining_airflow.runtime import platform

    platform().notifications.publish(subject("event", "findining", title), message)


def upload_rejected(key: str, why: str, record_uri: str) -> None:
    """An uploaded tarball failed its checks (``model_artifact_watch``); ``record_uri`` keeps
    later polls from alerting on the same bytes again."""
    publish_event(f"upload rejected: {key}",
                  f"{why}\n\nNothing was registered or deployed. Upload a fixed tarball to check it again "
                  f"(these bytes are recorded as rejected in {record_uri}).")


def upload_registered_rejected(key: str, version) -> None:
    """An upload that passed its checks but not the quality gate: registered as ``Rejected``."""
    publish_event(f"upload rejected: {key}",
                  f"{version.reason}\n\nRegistered as {version.model_name} {version.display} "
                  f"({version.status}); nothing was deployed.")


def canary_rolled_back(model: str, challenger: int, note: str) -> None:
    """A rollout ended with the champion back at 100 % (an alarm, or a run that ended before it finished)."""
    from findining_airflow.runtime import platform
    from findining_mlops.registry.versions import version_names

    publish_event(f"canary rolled back: {model} {version_names(platform().registry, model)[challenger]}", note)


def ab_test_finished(test, summary: dict) -> None:
    """A stopped or concluded A/B test, summarised by the domain (``lifecycle.result_message``)
    with its arms named as people know them."""
    from findining_airflow.runtime import platform
    from findining_mlops.abtest.lifecycle import result_message
    from findining_mlops.registry.versions import version_names

    publish_event(*result_message(test, summary, version_names(platform().registry, test.model_name)))


def day_not_checked(model: str, day: str, check: str, message: str) -> None:
    """A monitored day that could not be checked as usual (no traffic, no ground truth, ...)."""
    publish_event(f"{model} monitoring {day}: {check}", message)


def retraining_triggered(model: str, day: str, reason: str) -> None:
    """The retrain policy asked for a new version of ``model`` on ``day``."""
    publish_event(f"retraining {model} ({day})", reason)


def default_args() -> dict:
    """Every DAG's task defaults: an owner, retries for transient failures (errors a retry
    cannot fix fail at once, see ``errors.fail_fast``), and the failure alert."""
    return {"owner": "ml-platform", "retries": 2, "retry_delay": retry_delay(),
            "on_failure_callback": alert_on_task_failure}


def retry_delay():
    """The wait between a failed task's tries: ``FINDINING_RETRY_DELAY_SECONDS`` (default 20).
    Read from the environment when a DAG file is parsed (an Airflow Variable would cost a
    database query per parse); the tests set 0 so that a retried run does not wait."""
    import math
    import os
    from datetime import timedelta

    from findining_mlops.errors import ConfigurationError

    value = os.environ.get("FINDINING_RETRY_DELAY_SECONDS", "20")
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0 or math.isinf(seconds):
        raise ConfigurationError(f"FINDINING_RETRY_DELAY_SECONDS={value!r} is not a number of seconds >= 0")
    return timedelta(seconds=seconds)
