"""The platform's state as people read it: the state page (HTML with plots) and the tables and
history plots the plugin's report views share.

Everything is read through the platform ports (store, registry, endpoints, A/B tests,
notifications), so the pages are the same on the ``local`` and ``aws`` backends.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypedDict

from findining_mlops.config.catalog import get_model, model_names
from findining_mlops.platform.ports import Platform
from findining_mlops.registry.versions import labelled_variants, version_names
from findining_mlops.store.json import read_json_if_exists
from findining_mlops.store.layout import (
    monitoring_report_key,
    monitoring_report_prefix,
    monitoring_reports_prefix,
    partition_day,
)

STATE_DAYS = 30  # the state page's window of monitored days
RECENT_ALERTS = 20
PAGE_STYLE = ("<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
              "th,td{border:1px solid #bbb;padding:3px 8px;text-align:left;vertical-align:top}"
              "th{background:#eef}td.text{white-space:pre-wrap;max-width:60em}</style>")


class MonitoredDay(TypedDict):
    """A monitored day as the state page and the demo's summary show it."""

    day: str  # ISO date
    drift_share: float | None
    drifted: str  # the drifted columns, comma-separated
    metric: float | None  # the model's primary metric
    retrain: bool
    check: str  # what the day's check found: checked, no traffic, ... (decision.json's "outcome")
    note: str  # why a retraining was triggered, or what held it back


def daily_history(platform: Platform, model: str, days: list[date]) -> list[MonitoredDay]:
    """Per monitored day: drift share, primary metric, what the day's check found (``check``) and the
    decision (from the day's reports)."""
    spec = get_model(model)
    rows: list[MonitoredDay] = []
    for day in days:
        drift, performance, decision = (read_json_if_exists(platform.store, monitoring_report_key(model, day, name))
                                        or {} for name in ("drift.json", "performance.json", "decision.json"))
        rows.append(MonitoredDay(
            day=day.isoformat(),
            drift_share=drift.get("drift_share"),
            drifted=", ".join(c for c, d in drift.get("columns", {}).items() if d["drifted"]),
            metric=performance.get("current", {}).get(spec.primary_metric),
            retrain=decision.get("retrain", False),
            check=decision.get("outcome", "not monitored"),
            note=decision.get("reason") if decision.get("retrain") else decision.get("suppressed_by") or "",
        ))
    return rows


class Html(str):
    """A table cell that is already HTML (a link), not text to escape."""


def html_table(rows: list[dict], text_columns: tuple[str, ...] = ()) -> str:
    """Rows (dicts with the same keys) as an HTML table; nested values as JSON; ``text_columns``
    keep their line breaks."""
    if not rows:
        return "<p>none yet</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=text' if c in text_columns else ''}>{_cell(row.get(c))}</td>"
                         for c in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    if isinstance(value, Html):
        return value
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
    return html.escape(text)


def history_figure(model: str, history: list[MonitoredDay], drift_start: date | None = None):
    """The daily drift share and primary metric, with the days that triggered a retraining marked."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from findining_mlops.reporting.plots import day_axis

    metric = get_model(model).primary_metric
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    x = [r["day"] for r in history]
    figure.add_trace(go.Scatter(x=x, y=[r["drift_share"] for r in history], name="drift share", mode="lines+markers"))
    figure.add_trace(go.Scatter(x=x, y=[r["metric"] for r in history], name=metric, mode="lines+markers"),
                     secondary_y=True)
    for row in history:
        if row["retrain"]:
            figure.add_vline(x=row["day"], line_dash="dot", line_color="red")
    if drift_start is not None:
        figure.add_vline(x=drift_start.isoformat(), line_color="grey")
    day_axis(figure, x)
    figure.update_yaxes(title_text="drift share", range=[0, 1], secondary_y=False)
    figure.update_yaxes(title_text=metric, secondary_y=True)
    marks = ("grey: drift begins; " if drift_start else "") + "red: retraining triggered"
    figure.update_layout(title=f"{model}: daily drift share and {metric} ({marks})", height=380)
    return figure


def monitored_days(platform: Platform, model: str, days: int = STATE_DAYS) -> list[date]:
    """The days with monitoring reports among the ``days`` days ending at the newest one."""
    found = sorted({day for key in platform.store.list_keys(monitoring_reports_prefix(model))
                    if (day := partition_day(key))})
    return [d for d in found if d > found[-1] - timedelta(days=days)] if found else []


def live_versions(platform: Platform, model: str) -> dict:
    """The model's endpoint, its live version (the variant serving most traffic, else the latest
    approved) and each variant's version and share of the traffic."""
    from findining_mlops.registry.variants import champion

    spec = get_model(model)
    live = champion(platform, spec)
    endpoint = platform.endpoints.describe(spec.endpoint_name)
    split = [] if endpoint is None else [
        {"variant": v["variant"], "version": v["display"], "traffic_percent": v["traffic_percent"]}
        for v in labelled_variants(platform.registry, endpoint.to_dict()["variants"])]
    return {"model": model, "endpoint": spec.endpoint_name,
            "endpoint_status": endpoint.status if endpoint else "not created",
            "live_version": live.display if live else "none", "split": split}


def running_tests(platform: Platform) -> list[dict]:
    """Per running A/B test and metric: the newest analysis' difference and interval."""
    from findining_mlops.abtest.lifecycle import history
    from findining_mlops.platform.ports import RUNNING

    rows = []
    for test in platform.abtests.list_tests(RUNNING):
        names = version_names(platform.registry, test.model_name)
        heading = {"test": f"{test.test_name} ({test.test_id})", "model": test.model_name,
                   "control": names[test.control_version], "treatment": names[test.treatment_version],
                   "treatment_percent": test.traffic_split, "started": test.started_at}
        days = history(platform, test)
        if not days:
            rows.append({**heading, "day": "not analyzed yet", "metric": "", "difference": None, "interval": "",
                         "decision": ""})
            continue
        latest = days[-1]
        for name, m in latest["metrics"].items():
            rows.append({**heading, "day": f"{latest['day']} (day {latest['day_number']})", "metric": name,
                         "difference": m["difference"], "interval": f"[{m['ci_low']:+.4g}, {m['ci_high']:+.4g}]",
                         "decision": latest["decision"]})
    return rows


def state_page(platform: Platform, report_link: Callable[[str], str] | None = None, days: int = STATE_DAYS,
               alerts: int = RECENT_ALERTS) -> str:
    """The pipeline at a glance, as an HTML page: per model the live version and its traffic
    split and the last ``days`` monitored days (drift share, performance, retraining decisions;
    table and plot), the running A/B tests with their current interval, and the recent alerts.
    ``report_link`` turns a store key into a URL to link the reports from."""
    def link(key: str, text: str) -> str:
        return Html(f'<a href="{html.escape(report_link(key))}">{html.escape(text)}</a>') if report_link else text

    models = model_names()
    live = [live_versions(platform, m) for m in models]
    body = ["<h1>Find Dining pipeline state</h1>", "<h2>Live versions</h2>", html_table([
        {"model": m["model"], "endpoint": f"{m['endpoint']} ({m['endpoint_status']})",
         "live version": m["live_version"],
         "traffic split": ", ".join(f"{v['version']}: {v['traffic_percent']:g} %" for v in m["split"]) or "no endpoint"}
        for m in live])]
    plotted = 0
    for model in models:
        monitored = monitored_days(platform, model, days)
        body.append(f"<h2>{html.escape(model)}: the last {days} days of monitoring</h2>")
        if not monitored:
            body.append("<p>no monitoring reports yet</p>")
            continue
        history = daily_history(platform, model, monitored)
        body.append(history_figure(model, history).to_html(full_html=False, include_plotlyjs=plotted == 0))
        plotted += 1
        body.append(html_table([{"day": link(monitoring_report_prefix(model, date.fromisoformat(r["day"])), r["day"]),
                                 "drift share": r["drift_share"], "drifted columns": r["drifted"],
                                 get_model(model).primary_metric: r["metric"],
                                 "decision": ("RETRAIN: " + r["note"]) if r["retrain"] else r["check"]}
                                for r in history]))
    body += ["<h2>Running A/B tests</h2>", html_table(running_tests(platform))]
    body += [f"<h2>Recent alerts (the newest {alerts})</h2>", html_table(
        [{"time": a.get("Timestamp"), "subject": a.get("Subject"), "message": a.get("Message")}
         for a in platform.notifications.recent(alerts)], text_columns=("message",))]
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Find Dining pipeline state</title>"
            f"{PAGE_STYLE}</head><body>" + "\n".join(body) + "</body></html>")
