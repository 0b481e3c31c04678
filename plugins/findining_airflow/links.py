"""The "Reports" button of a task instance: its drift/performance or A/B reports in the view.

A global operator link, so the TaskFlow tasks of ``model_monitoring`` and ``ab_test_analysis``
get it without a custom operator. Airflow computes it in the API server from the task instance's
key alone, so the folder comes from names the DAGs fix: the mapped ``analyze`` task's map index
is the position of the model in ``model_names()``, and a scheduled or backfilled run's id holds
the day it checks. Where the day is unknown (a run triggered by hand) the link opens the model's
folder of days. Other tasks get no link (an empty URL: the button is disabled).
"""

from __future__ import annotations

from airflow.sdk import BaseOperatorLink

from findining_airflow.reports import model_url, monitoring_folder, run_id_day, sagemaker_training_job_url, view_url
from findining_mlops.store.layout import ABTESTS_PREFIX

MONITORING_TASKS = {("model_monitoring", "analyze"), ("model_monitoring", "decide")}
AB_ANALYSIS_TASKS = {("ab_test_analysis", "analyze")}


def reports_key(dag_id: str, task_id: str, run_id: str, map_index: int) -> tuple[str, dict[str, str]] | None:
    """The store folder (and view query) holding a task instance's reports, or ``None``."""
    day = run_id_day(run_id)
    if (dag_id, task_id) in MONITORING_TASKS and map_index >= 0:
        from findining_mlops.config.catalog import model_names

        models = model_names()
        return (monitoring_folder(models[map_index], day), {}) if map_index < len(models) else None
    if (dag_id, task_id) in AB_ANALYSIS_TASKS:
        return ABTESTS_PREFIX, ({"day": day.isoformat()} if day else {})
    return None


class StoreReportsLink(BaseOperatorLink):
    name = "Reports"

    def get_link(self, operator, *, ti_key) -> str:
        found = reports_key(ti_key.dag_id, ti_key.task_id, ti_key.run_id, ti_key.map_index)
        if found is None:
            return ""
        from airflow.configuration import conf

        key, query = found
        return view_url(conf.get("api", "base_url", fallback=""), key, **query)


class TrainingJobLink(BaseOperatorLink):
    """The training job: its SageMaker console page on ``aws``; locally, the model's page in the
    reports view (registry versions with their training jobs, rollout history).

    Computed on the worker when the task ends (Airflow stores it with the task instance), with
    the backend's settings and the job name ``model_retraining`` derives from the DAG run."""

    name = "Training job"

    def get_link(self, operator, *, ti_key) -> str:
        from findining_airflow.runtime import settings
        from findining_mlops.training.job import training_job_name

        configured = settings()
        if configured.backend != "aws":
            from airflow.configuration import conf

            return model_url(conf.get("api", "base_url", fallback=""), operator.model_name)
        job_name = training_job_name(operator.model_name, ti_key.dag_id, ti_key.run_id)
        return sagemaker_training_job_url(configured.aws.region, job_name)
