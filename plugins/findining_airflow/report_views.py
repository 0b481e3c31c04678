"""A read-only view of the store's reports inside Airflow's API server (``/findining/...``).

Task instances link here (``links.py``) so a drift report or an A/B analysis is one click from
the task, on either backend: it reads through the platform's store port, never the file system.
Only keys under ``reports/`` and ``abtests/`` are served (``reports.readable_key``), and only to
a user logged in to Airflow.
"""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Callable

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from findining_airflow.reports import READABLE_PREFIXES, REPORTS_URL_PREFIX, UnreadableKey, readable_key

# The reports' HTML (Evidently, plotly) needs its scripts but must not act as the Airflow UI's
# origin: a sandbox gives it an opaque origin without the session cookie.
REPORT_HEADERS = {"Content-Security-Policy": "sandbox allow-scripts", "X-Content-Type-Options": "nosniff"}


def create_app(store_factory: Callable[[], object], authenticated: Callable | None = None) -> FastAPI:
    """The view over the store ``store_factory()`` returns; ``authenticated`` is the dependency
    that requires a logged-in user (Airflow's ``get_user`` in the API server)."""
    dependencies = [Depends(authenticated)] if authenticated else []
    app = FastAPI(title="Find Dining reports", dependencies=dependencies)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return _listing("Find Dining reports", [f"{prefix}/" for prefix in READABLE_PREFIXES])

    @app.get("/files/{path:path}")
    def files(path: str, day: str | None = Query(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")) -> Response:
        try:
            key = readable_key(path)
        except UnreadableKey as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        store = store_factory()
        if key.endswith("/"):
            keys = store.list_keys(key)
            if day:  # e.g. every A/B test's analysis of one day
                keys = [k for k in keys if f"/dt={day}/" in k]
            if not keys:
                raise HTTPException(status_code=404, detail=f"no reports under {key}" + (f" for {day}" if day else ""))
            return _listing(key, sorted({_child(key, k) for k in keys}))
        try:
            body = store.read_bytes(key)
        except FileNotFoundError as exc:
            raise HTTPException(status_code=404, detail=f"no report {key}") from exc
        media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        return Response(body, media_type=media_type, headers=REPORT_HEADERS)

    return app


def _child(folder: str, key: str) -> str:
    """The entry of ``folder`` that holds ``key``: the file itself or its next sub-folder."""
    rest = key[len(folder):]
    return folder + (rest.split("/", 1)[0] + "/" if "/" in rest else rest)


def _listing(title: str, keys: list[str]) -> HTMLResponse:
    items = "".join(f'<li><a href="{REPORTS_URL_PREFIX}/files/{html.escape(k)}">{html.escape(k)}</a></li>'
                    for k in keys)
    return HTMLResponse(f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
                        f"<ul>{items}</ul>", headers=REPORT_HEADERS)
