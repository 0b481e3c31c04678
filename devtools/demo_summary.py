"""The demo's summary: the same figures as text for the terminal and as an HTML page with plots
(``reports/demo/summary.html`` on the store).

Each section returns its terminal lines and its HTML parts, so the two never disagree. Everything
is read through the platform's ports, as the state page reads it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from findining_mlops.config.catalog import get_model, model_names
from findining_mlops.platform.ports import Platform
from findining_mlops.registry.versions import labelled_variants
from findining_mlops.reporting.summary import PAGE_STYLE, RECENT_ALERTS, daily_history, history_figure, html_table
from findining_mlops.store.layout import DEMO_SUMMARY_KEY

SHOWN_METRICS = ("ndcg_at_10", "hit_rate_at_10", "auc", "macro_f1", "accuracy")


@dataclass(frozen=True)
class Summary:
    text: str
    html_path: Path


@dataclass
class _Section:
    """A part of the summary: its lines for the terminal and its HTML."""

    lines: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)


def demo_summary(platform: Platform, monitored: list[date], drift_start: date, traffic: dict[str, dict],
                 live: dict[str, dict], timings: dict[str, float], ab_test_id: str | None = None) -> Summary:
    """The demo's summary: text for the terminal and the same figures as HTML tables and plots
    in ``reports/demo/summary.html``."""
    title = "Find Dining MLOps demo summary"
    sections = [_Section(["", f"=== {title} ===", ""], [f"<h1>{title}</h1>"])]
    sections += [_monitoring(platform, model, monitored, drift_start, first=index == 0)
                 for index, model in enumerate(model_names())]
    sections += [_registry(platform), _rollouts(platform), _live_traffic(live)]
    if ab_test_id is not None:
        sections.append(_ab_test(platform, ab_test_id))
    sections += [_endpoints(platform), _replayed(traffic), _alerts(platform), _timings(timings)]
    lines = [line for section in sections for line in section.lines]
    body = [part for section in sections for part in section.body]
    platform.store.write_bytes(
        DEMO_SUMMARY_KEY,
        ("<!doctype html><html><head><meta charset='utf-8'><title>Find Dining MLOps demo</title>"
         f"{PAGE_STYLE}</head><body>" + "\n".join(body) + "</body></html>").encode(),
    )
    return Summary("\n".join(lines), Path(platform.store.path(DEMO_SUMMARY_KEY)))


def _monitoring(platform: Platform, model: str, monitored: list[date], drift_start: date, first: bool) -> _Section:
    """A model's monitored days with their decisions, and whether a retraining came before the drift."""
    metric = get_model(model).primary_metric
    history = daily_history(platform, model, monitored)
    section = _Section([f"{model}: daily monitoring (drift begins {drift_start})",
                        f"  {'day':<11} {'drift share':>11} {metric:>12}  decision"])
    rows = []
    for row in history:
        share = f"{row['drift_share']:.2f}" if row["drift_share"] is not None else "-"
        value = f"{row['metric']:.3f}" if row["metric"] is not None else "-"
        verdict = "RETRAIN: " + row["note"] if row["retrain"] else (row["note"] or "ok")
        section.lines.append(f"  {row['day']:<11} {share:>11} {value:>12}  {verdict[:110]}")
        rows.append({"day": row["day"], "drift share": row["drift_share"], "drifted columns": row["drifted"],
                     metric: row["metric"], "decision": verdict})
    retrained = [r["day"] for r in history if r["retrain"]]
    early = any(day < drift_start.isoformat() for day in retrained)
    triggered = f"retraining triggered on: {', '.join(retrained) or 'never'}{' (before the drift!)' if early else ''}"
    section.lines += [f"  {triggered}", ""]
    section.body += [f"<h2>{html.escape(model)}: daily monitoring (drift begins {drift_start})</h2>",
                     history_figure(model, history, drift_start).to_html(full_html=False, include_plotlyjs=first),
                     html_table(rows), f"<p>{html.escape(triggered)}</p>"]
    return section


def _registry(platform: Platform) -> _Section:
    versions = [{"model": v.model_name, "version": v.display, "status": v.status,
                 "metrics": ", ".join(f"{k}={v.metrics[k]:.3f}" for k in SHOWN_METRICS if k in v.metrics),
                 "baseline": ", ".join(f"{b}={v.metrics[b]:.3f}" for b in get_model(v.model_name).baseline_metrics
                                       if b in v.metrics),
                 "reason": v.reason} for v in platform.registry.list_versions()]
    section = _Section(["Model registry:"], ["<h2>Model registry</h2>", html_table(versions)])
    for v in versions:
        section.lines.append(f"  {v['model']} {v['version']} {v['status']}: {v['metrics']}")
        section.lines.append(f"      baseline {v['baseline']}; reason: {v['reason'][:100]}")
    return section


def _rollouts(platform: Platform) -> _Section:
    rollouts = [{"model": e["model_name"], "version": e["version"], "event": e["event"], "endpoint": e["endpoint"],
                 "run": e["run"], "detail": e["detail"]} for e in platform.registry.deployment_history()]
    title = "Rollouts (registry deployment history)"
    return _Section(
        ["", f"{title}:"] + [f"  {e['model']} v{e['version']} {e['event']:<12} on {e['endpoint']} ({e['run']}): "
                             f"{e['detail'][:150]}" for e in rollouts],
        [f"<h2>{title}</h2>", html_table(rollouts)])


def _live_traffic(live: dict[str, dict]) -> _Section:
    """Per bake (a phase of the demo) and variant: the requests served and their latency."""
    title = "Live traffic while the rollouts baked (per variant)"
    section = _Section(["", f"{title}:"])
    per_variant = []
    for name, report in live.items():
        section.lines.append(f"  {name}: {report['sent']} sent, {report['served']} served, {report['errors']} errors, "
                             f"{report['lost']} lost")
        for variant, stats in report["per_variant"].items():
            section.lines.append(f"      {variant:<22} {stats['requests']:>6} served, "
                                 f"p50 {stats['p50_latency_ms']} ms, p95 {stats['p95_latency_ms']} ms")
            per_variant.append({"phase": name, "sent": report["sent"], "errors": report["errors"],
                                "lost": report["lost"], "variant": variant, "served": stats["requests"],
                                "p50 ms": stats["p50_latency_ms"], "p95 ms": stats["p95_latency_ms"]})
    section.body += [f"<h2>{title}</h2>", html_table(per_variant)]
    return section


def _ab_test(platform: Platform, test_id: str) -> _Section:
    """The test's daily analyses, as lines, a table and the confidence-interval plot."""
    from findining_mlops.abtest.lifecycle import ci_figure, history

    test = platform.abtests.get(test_id)
    days = history(platform, test)
    lines = ab_test_lines(platform, test_id)
    rows = [{"day": d["day"], "day number": d["day_number"], "metric": name,
             "control users": d["users"]["control"], "treatment users": d["users"]["treatment"],
             "difference": m["difference"], "interval": f"[{m['ci_low']:+.4g}, {m['ci_high']:+.4g}]",
             "always-valid p": m["sequential_p_value"], "decision": d["decision"],
             "outcome": d["outcome"]} for d in days for name, m in d["metrics"].items()]
    return _Section([""] + lines, [f"<h2>A/B test {html.escape(test.test_name)} ({test.test_id})</h2>",
                                   html_table(rows), f"<p>{html.escape(lines[-1].strip())}</p>",
                                   ci_figure(test, days).to_html(full_html=False, include_plotlyjs=False)])


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


def _endpoints(platform: Platform) -> _Section:
    endpoints = [{"endpoint": f"{e.name} ({e.status})", "variant": v["variant"], "model": v["model"],
                  "version": v["display"], "traffic percent": v["traffic_percent"]}
                 for e in platform.endpoints.list_endpoints()
                 for v in labelled_variants(platform.registry, e.to_dict()["variants"])]
    return _Section(
        ["", "Endpoints:"] + [f"  {v['endpoint']} {v['variant']:<22} {v['model']} {v['version']}  "
                              f"{v['traffic percent']:.0f} % of traffic" for v in endpoints],
        ["<h2>Endpoints</h2>", html_table(endpoints)])


def _replayed(traffic: dict[str, dict]) -> _Section:
    replayed = [{"endpoint": get_model(m).endpoint_name, "requests": t["sent"], "errors": t["errors"]}
                for m, t in traffic.items()]
    return _Section(["", "Replayed traffic:"] + [f"  {r['endpoint']}: {r['requests']} requests, {r['errors']} errors"
                                                 for r in replayed],
                    ["<h2>Replayed traffic</h2>", html_table(replayed)])


def _alerts(platform: Platform) -> _Section:
    alerts = platform.notifications.recent(RECENT_ALERTS)
    title = f"Alerts (the newest {RECENT_ALERTS})"
    return _Section(["", f"{title}:"] + [f"  {a['Subject']}" for a in alerts], [
        f"<h2>{title}</h2>",
        html_table([{"time": a["Timestamp"], "subject": a["Subject"], "message": a["Message"]} for a in alerts],
                   text_columns=("message",))])


def _timings(timings: dict[str, float]) -> _Section:
    steps = [{"step": step, "seconds": round(seconds, 1)} for step, seconds in timings.items()]
    return _Section(["", "Timings:"] + [f"  {t['step']:<20} {t['seconds']:7.1f} s" for t in steps],
                    ["<h2>Timings</h2>", html_table(steps)])
