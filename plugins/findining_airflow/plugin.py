"""Registers the reports view and the task links ("Reports", "Training job") with Airflow."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from findining_airflow.links import StoreReportsLink, TrainingJobLink
from findining_airflow.reports import REPORTS_URL_PREFIX, STATE_PATH


def _platform():
    from findining_airflow.runtime import platform

    return platform()


def _reports_app():
    # Airflow's own dependency for "a logged-in user" (session cookie or bearer token), and its
    # auth manager to say which reports that user's role may read
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user

    from findining_airflow.report_access import airflow_access
    from findining_airflow.report_views import create_app

    return create_app(_platform, access=airflow_access(get_user, get_auth_manager))


class FindiningPlugin(AirflowPlugin):
    name = "findining"
    global_operator_extra_links = [StoreReportsLink()]
    operator_extra_links = [TrainingJobLink()]  # TrainingJobOperator's
    fastapi_apps = [{"app": _reports_app(), "url_prefix": REPORTS_URL_PREFIX, "name": "Find Dining reports"}]
    # "Pipeline state" and "Reports" entries in the UI's navigation, next to Browse and Admin
    external_views = [{"name": "Pipeline state", "href": f"{REPORTS_URL_PREFIX}{STATE_PATH}", "destination": "nav"},
                      {"name": "Reports", "href": f"{REPORTS_URL_PREFIX}/", "destination": "nav"}]
