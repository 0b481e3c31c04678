"""A read-only view of the store's reports inside Airflow's API server (``/findining/...``).

Task instances link here (``links.py``) so a drift report or an A/B analysis is one click from
the task, on either backend: it reads through the platform's store port, never the file system.
Only keys under ``reports/`` and ``abtests/`` are served (``reports.readable_key``); a model's
page (``/models/<model>``) shows its registry versions and rollout history from the registry
port; the state page (``/state``) shows the whole pipeline at a glance (``report.state_page``).
Everything is read-only and only for a user logged in to Airflow.

What a user reads depends on its Airflow role (``report_access``, decided by the auth manager):

    report kind                                          Viewer  User  Op   Admin
    monitoring, A/B tests, deployment (model pages),     yes     yes   yes  yes
      the state page without its alerts
    customer feedback digests, alerts, demo summary,     no      no    yes  yes
      unclassified files

A report the user may not read is refused here, on the server (403, before the store is read, so
the answer does not say whether it exists); listings leave out what it may not open, and the
state page shows it no alerts.
"""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Callable

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from findining_airflow.report_access import ReportKind, kind_of, unrestricted
from findining_airflow.reports import (
    READABLE_PREFIXES,
    REPORTS_URL_PREFIX,
    STATE_PATH,
    UnreadableKey,
    readable_key,
    view_url,
)

# The reports' HTML (Evidently, plotly) needs its scripts but must not act as the Airflow UI's
# origin: a sandbox gives it an opaque origin without the session cookie.
REPORT_HEADERS = {"Content-Security-Policy": "sandbox allow-scripts", "X-Content-Type-Options": "nosniff"}


def create_app(platform_factory: Callable[[], object],
               access: Callable[..., frozenset[ReportKind]] = unrestricted) -> FastAPI:
    """The view over the platform ``platform_factory()`` returns; ``access`` is the dependency
    that authenticates a request and gives the report kinds its user may read (in the API server
    ``report_access.airflow_access``: a logged-in user, its kinds from Airflow's auth manager)."""
    app = FastAPI(title="Find Dining reports")

    @app.get("/", response_class=HTMLResponse)
    def index(allowed: frozenset[ReportKind] = Depends(access)) -> HTMLResponse:
        _require_some(allowed)
        alerts = ", recent alerts" if ReportKind.ALERTS in allowed else ""
        state = f'<p><a href="{REPORTS_URL_PREFIX}{STATE_PATH}">Pipeline state</a>: live versions, the last 30 days ' \
                f'of monitoring, running A/B tests{alerts}</p>'
        return _listing("Find Dining reports", [f"{prefix}/" for prefix in READABLE_PREFIXES], before=state)

    @app.get(STATE_PATH, response_class=HTMLResponse)
    def state(allowed: frozenset[ReportKind] = Depends(access)) -> HTMLResponse:
        """Per model the live version and its split and 30 days of monitoring; A/B tests; alerts."""
        from findining_mlops.reporting.summary import RECENT_ALERTS, state_page

        _require(ReportKind.STATE, allowed, STATE_PATH)
        alerts = RECENT_ALERTS if ReportKind.ALERTS in allowed else 0
        return HTMLResponse(state_page(platform_factory(), report_link=lambda key: view_url("", key), alerts=alerts),
                            headers=REPORT_HEADERS)

    @app.get("/files/{path:path}")
    def files(path: str, day: str | None = Query(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$"),
              allowed: frozenset[ReportKind] = Depends(access)) -> Response:
        try:
            key = readable_key(path)
        except UnreadableKey as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        if (kind := kind_of(key)) is not None:
            _require(kind, allowed, key)
        else:  # a folder of several kinds: its listing is filtered
            _require_some(allowed)
        store = platform_factory().store
        return _folder(store, key, day, allowed) if key.endswith("/") else _file(store, key)

    @app.get("/models/{model}", response_class=HTMLResponse)
    def model(model: str, allowed: frozenset[ReportKind] = Depends(access)) -> HTMLResponse:
        """The model's registry versions (with the training job of each) and its rollout history."""
        from findining_mlops.config.catalog import model_names
        from findining_mlops.reporting.summary import PAGE_STYLE, html_table

        _require(ReportKind.DEPLOYMENT, allowed, f"/models/{model}")
        if model not in model_names():
            raise HTTPException(status_code=404, detail=f"no model {model!r}; the models are {model_names()}")
        platform = platform_factory()
        versions = [{"version": v.version, "status": v.status, "created_at": v.created_at, "reason": v.reason,
                     "training_job": v.lineage.get("training_job", ""), "metrics": v.metrics}
                    for v in platform.registry.list_versions(model)]
        rollouts = platform.registry.deployment_history(model)
        return HTMLResponse(f"<!doctype html><title>{html.escape(model)}</title>{PAGE_STYLE}"
                            f"<h1>{html.escape(model)}</h1>"
                            f"<h2>Registry versions</h2>{html_table(versions)}"
                            f"<h2>Rollout history</h2>{html_table(rollouts)}", headers=REPORT_HEADERS)

    return app


def _folder(store, key: str, day: str | None, allowed: frozenset[ReportKind]) -> HTMLResponse:
    """The folder's next level, of the keys the user may open (and of ``day``, if given)."""
    keys = [k for k in store.list_keys(key) if kind_of(k) in allowed]
    if day:  # e.g. every A/B test's analysis of one day
        keys = [k for k in keys if f"/dt={day}/" in k]
    if not keys:
        raise HTTPException(status_code=404, detail=f"no reports under {key}" + (f" for {day}" if day else ""))
    return _listing(key, sorted({_child(key, k) for k in keys}))


def _file(store, key: str) -> Response:
    try:
        body = store.read_bytes(key)
    except FileNotFoundError as exc:
        raise HTTPException(status_code=404, detail=f"no report {key}") from exc
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return Response(body, media_type=media_type, headers=REPORT_HEADERS)


def _require(kind: ReportKind, allowed: frozenset[ReportKind], what: str) -> None:
    if kind not in allowed:
        raise HTTPException(status_code=403, detail=f"{what} is one of the {kind}, which your Airflow role may not "
                                                    "read (see docs/operations.md, \"Who reads which report\")")


def _require_some(allowed: frozenset[ReportKind]) -> None:
    if not allowed:
        raise HTTPException(status_code=403, detail="your Airflow role may read no reports")


def _child(folder: str, key: str) -> str:
    """The entry of ``folder`` that holds ``key``: the file itself or its next sub-folder."""
    rest = key[len(folder):]
    return folder + (rest.split("/", 1)[0] + "/" if "/" in rest else rest)


def _listing(title: str, keys: list[str], before: str = "") -> HTMLResponse:
    items = "".join(f'<li><a href="{REPORTS_URL_PREFIX}/files/{html.escape(k)}">{html.escape(k)}</a></li>'
                    for k in keys)
    return HTMLResponse(f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
                        f"{before}<ul>{items}</ul>", headers=REPORT_HEADERS)
