"""Who may read which report: the reports view's policy, decided by Airflow's auth manager.

Monitoring, A/B and deployment reports are for everyone who may use the Airflow UI. Customer
feedback text (the negative-feedback digest), the alert archive and the demo summary (which
reprints the recent alerts) hold what customers wrote and what went wrong: they are for whoever
the auth manager lets read the deployment's Variables, the line where Airflow's built-in roles
start trusting an operator. Anything else under the served prefixes (an A/B test's raw events
and per-user table, a folder nobody classified yet) is treated the same way, so a new kind of
file is never shown to viewers by default.

Viewer and User read the first kinds, Op and Admin all of them (the table is in ``report_views``
and docs/operations.md, "Who reads which report"); with FAB's custom roles or Keycloak, a role
reads the restricted kinds once it may read Variables. The auth manager answers two questions
(``permissions_of``); the policy from those answers to report kinds (``allowed_kinds``) and from
a store key to its kind (``kind_of``) are pure.
"""

# no ``from __future__ import annotations``: FastAPI reads ``access``'s Annotated dependency when
# it is defined, where the closure's ``get_user`` is in scope
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends

from findining_mlops.store.layout import ABTESTS_PREFIX, ALERTS_PREFIX, DEMO_SUMMARY_KEY, REPORTS_PREFIX


class Permission(StrEnum):
    """The auth manager's answers the policy needs."""

    USE_UI = "may use the Airflow UI"  # is_authorized_view(WEBSITE): Viewer and above
    READ_VARIABLES = "may read Variables"  # is_authorized_variable(GET): Op and Admin


class ReportKind(StrEnum):
    MONITORING = "monitoring reports"  # reports/<model>/dt=<day>/: drift, performance, decision
    AB_TEST = "A/B test analyses"  # abtests/<test>/test.json and abtests/<test>/dt=<day>/
    DEPLOYMENT = "registry versions and rollouts"  # /models/<model>
    STATE = "pipeline state"  # /state; its recent alerts need ALERTS
    CUSTOMER_FEEDBACK = "customer feedback digests"  # reports/feedback/
    ALERTS = "alerts"  # reports/alerts/ (the archive on aws), the state page's recent alerts
    DEMO_SUMMARY = "demo summary"  # reports/demo/summary.html, which lists the recent alerts
    UNCLASSIFIED = "unclassified files"  # raw A/B events, per-user tables, anything new


REQUIRED: dict[ReportKind, Permission] = {
    ReportKind.MONITORING: Permission.USE_UI,
    ReportKind.AB_TEST: Permission.USE_UI,
    ReportKind.DEPLOYMENT: Permission.USE_UI,
    ReportKind.STATE: Permission.USE_UI,
    ReportKind.CUSTOMER_FEEDBACK: Permission.READ_VARIABLES,
    ReportKind.ALERTS: Permission.READ_VARIABLES,
    ReportKind.DEMO_SUMMARY: Permission.READ_VARIABLES,
    ReportKind.UNCLASSIFIED: Permission.READ_VARIABLES,
}
ALL_KINDS = frozenset(ReportKind)
_FEEDBACK_PREFIX = f"{REPORTS_PREFIX}feedback/"
_DEMO_PREFIX = DEMO_SUMMARY_KEY.rsplit("/", 1)[0] + "/"


def allowed_kinds(permissions: Iterable[Permission]) -> frozenset[ReportKind]:
    """The report kinds a user with ``permissions`` may read."""
    held = set(permissions)
    return frozenset(kind for kind, needed in REQUIRED.items() if needed in held)


def permissions_of(auth_manager, user) -> frozenset[Permission]:
    """What Airflow's auth manager (any: simple, FAB, Keycloak ...) lets ``user`` do, of what
    the policy asks."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView

    answers = {Permission.USE_UI: auth_manager.is_authorized_view(access_view=AccessView.WEBSITE, user=user),
               Permission.READ_VARIABLES: auth_manager.is_authorized_variable(method="GET", user=user)}
    return frozenset(permission for permission, granted in answers.items() if granted)


def kind_of(key: str) -> ReportKind | None:
    """The kind of a store key (a file or a folder) under the served prefixes; ``None`` for a
    folder that holds several kinds (``reports/``, ``abtests/``, ``abtests/<test>/``), whose
    listing shows each user only what it may open."""
    if key in (REPORTS_PREFIX, ABTESTS_PREFIX):
        return None
    if key.startswith(REPORTS_PREFIX):
        return _report_kind(key)
    parts = key[len(ABTESTS_PREFIX):].split("/") if key.startswith(ABTESTS_PREFIX) else []
    if len(parts) == 2 and parts[1] == "":  # abtests/<test>/
        return None
    if len(parts) >= 2 and (parts[1] == "test.json" or parts[1].startswith("dt=")):
        return ReportKind.AB_TEST
    return ReportKind.UNCLASSIFIED


def _report_kind(key: str) -> ReportKind:
    from findining_mlops.config.catalog import model_names

    for prefix, kind in ((_FEEDBACK_PREFIX, ReportKind.CUSTOMER_FEEDBACK), (ALERTS_PREFIX, ReportKind.ALERTS),
                         (_DEMO_PREFIX, ReportKind.DEMO_SUMMARY)):
        if key.startswith(prefix):
            return kind
    folder = key[len(REPORTS_PREFIX):].split("/", 1)
    return ReportKind.MONITORING if len(folder) == 2 and folder[0] in model_names() else ReportKind.UNCLASSIFIED


def unrestricted() -> frozenset[ReportKind]:
    """Every kind: the view outside Airflow's API server (a test, a tool), where there is no user.
    The plugin always passes ``airflow_access`` instead."""
    return ALL_KINDS


def airflow_access(get_user: Callable, get_auth_manager: Callable[[], object]) -> Callable:
    """The FastAPI dependency that gives a request the kinds its user may read: ``get_user``
    authenticates (Airflow's, 401 without a session or token), ``get_auth_manager`` answers."""
    def access(user: Annotated[object, Depends(get_user)]) -> frozenset[ReportKind]:
        return allowed_kinds(permissions_of(get_auth_manager(), user))

    return access
