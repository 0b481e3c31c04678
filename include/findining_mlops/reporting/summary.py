"""Human-readable summaries of the platform's state: text for the terminal, HTML with plots.

Everything is read through the platform ports (store, registry, endpoints, A/B tests,
notifications), so the pages are the same on the ``local`` and ``aws`` backends.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from findining_mlops.config.catalog import get_model, model_names
from findining_mlops.monitoring.analysis import report_prefix
from findining_mlops.platform.ports import Platform
from findining_mlops.registry.versions import display

BASELINE_OF = {"ndcg_at_10": "popularity_ndcg_at_10", "hit_rate_at_10": "popularity_hit_rate_at_10",
               "macro_f1": "majority_class_macro_f1"}
SHOWN_METRICS = ("ndcg_at_10", "hit_rate_at_10", "auc", "macro_f1", "accuracy")
STATE_DAYS = 30  # the state page's window of monitored days
RECENT_ALERTS = 20
PAGE_STYLE = ("<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
              "th,td{border:1px solid #bbb;padding:3px 8px;text-align:left;vertical-align:top}"
              "th{background:#eef}td.text{white-space:pre-wrap;max-width:60em}</style>")
_REPORT_DAY = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


@dataclass(frozen=True)
class Summary:
    text: str
    html_path: Path


def _read_json(platform: Platform, key: str) -> dict:
    return json.loads(platform.store.read_bytes(key)) if platform.store.exists(key) else {}


def daily_history(platform: Platform, model: str, days: list[date]) -> list[dict]:
    """Per monitored day: drift share, primary metric, decision (from the day's reports)."""
    spec = get_model(model)
    rows = []
    for day in days:
        prefix = report_prefix(model, day)
        drift, performance, decision = (_read_json(platform, f"{prefix}/{name}")
                                        for name in ("drift.json", "performance.json", "decision.json"))
        rows.append({
            "day": day.isoformat(),
            "drift_share": drift.get("drift_share"),
            "drifted": ", ".join(c for c, d in drift.get("columns", {}).items() if d["drifted"]),
            "metric": performance.get("current", {}).get(spec.primary_metric),
            "retrain": decision.get("retrain", False),
            "outcome": decision.get("outcome", "not monitored"),
            "note": decision.get("reason") if decision.get("retrain") else decision.get("suppressed_by") or "",
        })
    return rows


def ab_test_lines(platform: Platform, test_id: str) -> list[str]:
    """The test's daily analyses: users per arm, each metric's difference with its interval, the decision."""
    from findining_mlops.abtest.lifecycle import history

    test = platform.abtests.get(test_id)
    lines = [f"A/B test {test.test_name} ({test.test_id}) on {test.endpoint}: {test.model_name} "
             f"v{test.control_version} (control) vs v{test.treatment_version} "
             f"(treatment, {test.traffic_split} % of users)"]
    for day in history(platform, test):
        lines.append(f"  {day['day']} (day {day['day_number']}): users {day['users']['control']} / "
                     f"{day['users']['treatment']}, decision {day['decision']} -> {day['outcome']}")
        for name, m in day["metrics"].items():
            lines.append(f"      {name:<24} {m['control']['mean']:.4f} vs {m['treatment']['mean']:.4f}, difference "
                         f"{m['difference']:+.4f} [{m['ci_low']:+.4f}, {m['ci_high']:+.4f}], always-valid p "
                         f"{m['sequential_p_value']:.3g}{' *' if m['significant'] else ''}")
    winner = f", v{test.winner} goes to 100 %" if test.winner is not None else ""
    lines.append(f"  test {test.status}{' on ' + test.concluded_at if test.concluded_at else ''}: "
                 f"{test.decision or 'still running'}{winner}")
    return lines


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


def history_figure(model: str, history: list[dict], drift_start: date | None = None):
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
    found = sorted({date.fromisoformat(m.group(1)) for k in platform.store.list_keys(f"reports/{model}/")
                    if (m := _REPORT_DAY.search(k))})
    return [d for d in found if d > found[-1] - timedelta(days=days)] if found else []


def live_versions(platform: Platform, model: str) -> dict:
    """The model's endpoint, its live version (the variant serving most traffic, else the latest
    approved) and each variant's version and share of the traffic."""
    from findining_mlops.registry.variants import champion

    spec = get_model(model)
    live = champion(platform, spec)
    endpoint = platform.endpoints.describe(spec.endpoint_name)
    split = [] if endpoint is None else [
        {"variant": v["variant"], "version": platform.registry.get(model, v["version"]).display,
         "traffic_percent": v["traffic_percent"]} for v in endpoint.to_dict()["variants"]]
    return {"model": model, "endpoint": spec.endpoint_name,
            "endpoint_status": endpoint.status if endpoint else "not created",
            "live_version": live.display if live else "none", "split": split}


def running_tests(platform: Platform) -> list[dict]:
    """Per running A/B test and metric: the newest analysis' difference and interval."""
    from findining_mlops.abtest.lifecycle import history
    from findining_mlops.platform.ports import RUNNING

    rows = []
    for test in platform.abtests.list_tests(RUNNING):
        heading = {"test": f"{test.test_name} ({test.test_id})", "model": test.model_name,
                   "control": platform.registry.get(test.model_name, test.control_version).display,
                   "treatment": platform.registry.get(test.model_name, test.treatment_version).display,
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
        body.append(html_table([{"day": link(report_prefix(model, date.fromisoformat(r["day"])) + "/", r["day"]),
                                 "drift share": r["drift_share"], "drifted columns": r["drifted"],
                                 get_model(model).primary_metric: r["metric"],
                                 "decision": ("RETRAIN: " + r["note"]) if r["retrain"] else r["outcome"]}
                                for r in history]))
    body += ["<h2>Running A/B tests</h2>", html_table(running_tests(platform))]
    body += [f"<h2>Recent alerts (the newest {alerts})</h2>", html_table(
        [{"time": a.get("Timestamp"), "subject": a.get("Subject"), "message": a.get("Message")}
         for a in platform.notifications.recent(alerts)], text_columns=("message",))]
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Find Dining pipeline state</title>"
            f"{PAGE_STYLE}</head><body>" + "\n".join(body) + "</body></html>")


def demo_summary(platform: Platform, monitored: list[date], drift_start: date, traffic: dict[str, dict],
                 live: dict[str, dict], timings: dict[str, float], ab_test_id: str | None = None) -> Summary:
    """The demo's summary: text for the terminal and the same figures as HTML tables and plots
    in ``reports/demo/summary.html``."""
    lines = ["", "=== Find Dining MLOps demo summary ===", ""]
    body = ["<h1>Find Dining MLOps demo summary</h1>"]
    for model in model_names():
        spec = get_model(model)
        history = daily_history(platform, model, monitored)
        lines.append(f"{model}: daily monitoring (drift begins {drift_start})")
        lines.append(f"  {'day':<11} {'drift share':>11} {spec.primary_metric:>12}  decision")
        rows = []
        for row in history:
            share = f"{row['drift_share']:.2f}" if row["drift_share"] is not None else "-"
            metric = f"{row['metric']:.3f}" if row["metric"] is not None else "-"
            verdict = "RETRAIN: " + row["note"] if row["retrain"] else (row["note"] or "ok")
            lines.append(f"  {row['day']:<11} {share:>11} {metric:>12}  {verdict[:110]}")
            rows.append({"day": row["day"], "drift share": row["drift_share"], "drifted columns": row["drifted"],
                         spec.primary_metric: row["metric"], "decision": verdict})
        retrained = [r["day"] for r in history if r["retrain"]]
        quiet = [r["day"] for r in history if r["retrain"] and r["day"] < drift_start.isoformat()]
        triggered = (f"retraining triggered on: {', '.join(retrained) or 'never'}"
                     f"{' (before the drift!)' if quiet else ''}")
        lines += [f"  {triggered}", ""]
        body += [f"<h2>{html.escape(model)}: daily monitoring (drift begins {drift_start})</h2>",
                 history_figure(model, history, drift_start).to_html(full_html=False, include_plotlyjs=len(body) == 1),
                 html_table(rows), f"<p>{html.escape(triggered)}</p>"]

    versions = [{"model": v.model_name, "version": v.display, "status": v.status,
                 "metrics": ", ".join(f"{k}={v.metrics[k]:.3f}" for k in SHOWN_METRICS if k in v.metrics),
                 "baseline": ", ".join(f"{b}={v.metrics[b]:.3f}" for k, b in BASELINE_OF.items() if b in v.metrics),
                 "reason": v.reason} for v in platform.registry.list_versions()]
    lines.append("Model registry:")
    for v in versions:
        lines.append(f"  {v['model']} {v['version']} {v['status']}: {v['metrics']}")
        lines.append(f"      baseline {v['baseline']}; reason: {v['reason'][:100]}")
    body += ["<h2>Model registry</h2>", html_table(versions)]

    rollouts = [{"model": e["model_name"], "version": e["version"], "event": e["event"], "endpoint": e["endpoint"],
                 "run": e["run"], "detail": e["detail"]} for e in platform.registry.deployment_history()]
    lines += ["", "Rollouts (registry deployment history):"]
    lines += [f"  {e['model']} v{e['version']} {e['event']:<12} on {e['endpoint']} ({e['run']}): {e['detail'][:150]}"
              for e in rollouts]
    body += ["<h2>Rollouts (registry deployment history)</h2>", html_table(rollouts)]

    per_variant = []
    lines += ["", "Live traffic while the rollouts baked (per variant):"]
    for name, report in live.items():
        lines.append(f"  {name}: {report['sent']} sent, {report['served']} served, {report['errors']} errors, "
                     f"{report['lost']} lost")
        for variant, stats in report["per_variant"].items():
            lines.append(f"      {variant:<22} {stats['requests']:>6} served, p50 {stats['p50_latency_ms']} ms, "
                         f"p95 {stats['p95_latency_ms']} ms")
            per_variant.append({"phase": name, "sent": report["sent"], "errors": report["errors"],
                                "lost": report["lost"], "variant": variant, "served": stats["requests"],
                                "p50 ms": stats["p50_latency_ms"], "p95 ms": stats["p95_latency_ms"]})
    body += ["<h2>Live traffic while the rollouts baked (per variant)</h2>", html_table(per_variant)]

    if ab_test_id is not None:
        from findining_mlops.abtest.lifecycle import ci_figure, history

        lines += [""] + ab_test_lines(platform, ab_test_id)
        test = platform.abtests.get(ab_test_id)
        days = history(platform, test)
        body += [f"<h2>A/B test {html.escape(test.test_name)} ({test.test_id})</h2>",
                 html_table([{"day": d["day"], "day number": d["day_number"], "metric": name,
                              "control users": d["users"]["control"], "treatment users": d["users"]["treatment"],
                              "difference": m["difference"], "interval": f"[{m['ci_low']:+.4g}, {m['ci_high']:+.4g}]",
                              "always-valid p": m["sequential_p_value"], "decision": d["decision"],
                              "outcome": d["outcome"]} for d in days for name, m in d["metrics"].items()]),
                 f"<p>{html.escape(ab_test_lines(platform, ab_test_id)[-1].strip())}</p>",
                 ci_figure(test, days).to_html(full_html=False, include_plotlyjs=False)]

    endpoints = [{"endpoint": f"{e.name} ({e.status})", "variant": v["variant"], "model": v["model"],
                  "version": display(platform.registry, v["model"], v["version"]),
                  "traffic percent": v["traffic_percent"]}
                 for e in platform.endpoints.list_endpoints() for v in e.to_dict()["variants"]]
    lines += ["", "Endpoints:"]
    lines += [f"  {v['endpoint']} {v['variant']:<22} {v['model']} {v['version']}  "
              f"{v['traffic percent']:.0f} % of traffic"
              for v in endpoints]
    body += ["<h2>Endpoints</h2>", html_table(endpoints)]

    replayed = [{"endpoint": get_model(m).endpoint_name, "requests": t["sent"], "errors": t["errors"]}
                for m, t in traffic.items()]
    lines += ["", "Replayed traffic:"]
    lines += [f"  {r['endpoint']}: {r['requests']} requests, {r['errors']} errors" for r in replayed]
    body += ["<h2>Replayed traffic</h2>", html_table(replayed)]

    alerts = platform.notifications.recent(RECENT_ALERTS)
    lines += ["", f"Alerts (the newest {RECENT_ALERTS}):"] + [f"  {a['Subject']}" for a in alerts]
    body += [f"<h2>Alerts (the newest {RECENT_ALERTS})</h2>",
             html_table([{"time": a["Timestamp"], "subject": a["Subject"], "message": a["Message"]} for a in alerts],
                        text_columns=("message",))]

    steps = [{"step": step, "seconds": round(seconds, 1)} for step, seconds in timings.items()]
    lines += ["", "Timings:"] + [f"  {t['step']:<20} {t['seconds']:7.1f} s" for t in steps]
    body += ["<h2>Timings</h2>", html_table(steps)]

    key = "reports/demo/summary.html"
    platform.store.write_bytes(
        key,
        ("<!doctype html><html><head><meta charset='utf-8'><title>Find Dining MLOps demo</title>"
         f"{PAGE_STYLE}</head><body>" + "\n".join(body) + "</body></html>").encode(),
    )
    return Summary("\n".join(lines), Path(platform.store.path(key)))
