"""What every DAG of the project shares: its ``@dag`` defaults, the preamble of a task that calls
the domain, the day a run works on, and the hand-over from the DAGs that register versions
(``model_retraining``, ``model_artifact_watch``) to ``model_deployment``.

Cheap to import at parse time: the domain's heavy modules are imported inside the tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import XComArg, dag

from findining_airflow.errors import fail_fast
from findining_airflow.notifications import alert_on_dag_failure, alert_on_dag_success, default_args
from findining_airflow.runtime import deployment_defaults, platform
from findining_airflow.sensors.endpoints import EndpointSettledSensor, settle_target
from findining_mlops.config.catalog import get_model

if TYPE_CHECKING:
    from findining_mlops.config.catalog import ModelSpec
    from findining_mlops.platform.ports import Platform
    from findining_mlops.platform.records import VersionRecord

log = logging.getLogger(__name__)
START_DATE = datetime(2026, 1, 1)
DAILY_START_DATE = datetime(2026, 10, 1)  # the first day the daily DAGs check
ENDPOINT_IN_SERVICE_TIMEOUT_S = 3 * 3600  # a SageMaker endpoint takes minutes; a stuck one fails the run


class DeploymentRequest(TypedDict):
    """One ``model_deployment`` run to trigger: its run id (the same request, the same run) and its Params."""

    trigger_run_id: str
    conf: dict


def findining_dag(dag_id: str, *, doc_md: str | None, tags: list[str], schedule: str | None = None,
                  start_date: datetime = START_DATE, **kwargs) -> Callable:
    """``@dag`` with the project's defaults: a static start date and no catch-up (backfills are
    asked for), the task defaults of ``notifications.default_args`` (retries, failure alert), and
    the run-level alerts. ``kwargs`` are passed on (params, max_active_runs, ...)."""
    return dag(dag_id=dag_id, schedule=schedule, start_date=start_date, catchup=False, doc_md=doc_md, tags=tags,
               default_args=default_args(), on_failure_callback=alert_on_dag_failure,
               on_success_callback=alert_on_dag_success, **kwargs)


def daily_dag(dag_id: str, *, doc_md: str | None, tags: list[str], max_active_runs: int = 1, **kwargs) -> Callable:
    """``findining_dag`` for a DAG that checks one day per run, from ``DAILY_START_DATE``. One run
    at a time by default, so a backfill's days go in date order."""
    return findining_dag(dag_id, doc_md=doc_md, tags=tags, schedule="@daily", start_date=DAILY_START_DATE,
                         max_active_runs=max_active_runs, **kwargs)


def run_day(dag_run, data_interval_start: datetime | None = None, given: str | None = None) -> date:
    """The day a run works on: ``given`` (a date from the form) when set; else the start of the
    run's data interval (a scheduled or backfilled day); else — a run triggered by hand without a
    logical date — the day before the run."""
    if given:
        return date.fromisoformat(given)
    return (data_interval_start or dag_run.run_after - timedelta(days=1)).date()


def run_ref(dag_run) -> str:
    """The run as a registered version's lineage names it: ``<dag_id>/<run_id>``."""
    return f"{dag_run.dag_id}/{dag_run.run_id}"


@contextmanager
def task_platform() -> Iterator[Platform]:
    """The preamble of a task that calls the domain: the configured platform, with the errors a
    retry cannot fix (bad input, an unknown model, a bad setting) failing the task at once
    (``errors.fail_fast``)."""
    with fail_fast():
        yield platform()


@contextmanager
def model_task(model_name: str) -> Iterator[tuple[Platform, ModelSpec]]:
    """``task_platform`` for a task about one model of the catalog: the platform and the model."""
    with task_platform() as configured:
        yield configured, get_model(model_name)


def deployment_requests(versions: list[VersionRecord], trigger_prefix: str, ti) -> list[DeploymentRequest]:
    """For the newest approved version of each model among ``versions``: a model without an
    endpoint gets one serving it (pushed as XCom ``new_endpoints`` for the sensor to wait on);
    otherwise a ``model_deployment`` request (returned, one per model), unless the endpoint
    serves it already (a retry after the bootstrap). Trigger run ids are keyed on the version,
    so a retried task does not deploy twice."""
    from findining_mlops.registry.variants import bootstrap_deploy

    requests: list[DeploymentRequest] = []
    new_endpoints = []
    for version in _newest_approved(versions):
        spec = get_model(version["model"])
        registered = platform().registry.get(spec.name, version["version"])
        created = bootstrap_deploy(platform(), spec, registered, wait=False)
        if created:
            log.info("bootstrap: %s is created to serve %s at 100 %%", spec.endpoint_name, registered.display)
            new_endpoints.append(settle_target(spec.endpoint_name, created))
            continue
        endpoint = platform().endpoints.describe(spec.endpoint_name)
        if endpoint and version["version"] in {v.model_version for v in endpoint.variants}:
            log.info("%s already serves %s", spec.endpoint_name, registered.display)
            continue
        conf = {"model_name": spec.name, "version": version["version"], **deployment_defaults(spec)}
        requests.append({"trigger_run_id": f"{trigger_prefix}__{spec.name}__v{version['version']}", "conf": conf})
    ti.xcom_push(key="new_endpoints", value=new_endpoints)
    return requests


def _newest_approved(versions: list[VersionRecord]) -> list[VersionRecord]:
    """The last approved version of each model in ``versions``, logging why the others are not deployed."""
    from findining_mlops.platform.ports import APPROVED

    for version in versions:
        if version["status"] != APPROVED:
            log.info("%s v%s is %s: nothing to deploy", version["model"], version["version"], version["status"])
    approved = [v for v in versions if v["status"] == APPROVED]
    newest = {v["model"]: v for v in approved}
    for version in approved:
        latest = newest[version["model"]]["version"]
        if version["version"] != latest:
            log.info("%s v%s is registered, not deployed: v%s was registered with it and goes out instead",
                     version["model"], version["version"], latest)
    return list(newest.values())


def deploy_handed_over(handed_over: XComArg) -> None:
    """The DAG's tail after the task returning ``deployment_requests``: wait until the endpoints
    it created are in service, and trigger ``model_deployment`` once per request."""
    EndpointSettledSensor(task_id="endpoint_in_service", targets=XComArg(handed_over.operator, key="new_endpoints"),
                          timeout=ENDPOINT_IN_SERVICE_TIMEOUT_S)
    TriggerDagRunOperator.partial(
        task_id="deploy", trigger_dag_id="model_deployment", skip_when_already_exists=True, logical_date=None,
    ).expand_kwargs(handed_over)
