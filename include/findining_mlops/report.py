"""Human-readable summaries of the platform's state: text for the terminal, HTML with plots."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from findining_mlops.catalog import get_model, model_names
from findining_mlops.monitoring import report_prefix
from findining_mlops.platform.ports import Platform

BASELINE_OF = {"ndcg_at_10": "popularity_ndcg_at_10", "hit_rate_at_10": "popularity_hit_rate_at_10",
               "macro_f1": "majority_class_macro_f1"}
SHOWN_METRICS = ("ndcg_at_10", "hit_rate_at_10", "auc", "macro_f1", "accuracy")


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


def demo_summary(platform: Platform, monitored: list[date], drift_start: date, traffic: dict[str, dict],
                 live: dict[str, dict], timings: dict[str, float], ab_test_id: str | None = None) -> Summary:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    lines = ["", "=== Find Dining MLOps demo summary ===", ""]
    figures = []
    for model in model_names():
        spec = get_model(model)
        history = daily_history(platform, model, monitored)
        lines.append(f"{model}: daily monitoring (drift begins {drift_start})")
        lines.append(f"  {'day':<11} {'drift share':>11} {spec.primary_metric:>12}  decision")
        for row in history:
            share = f"{row['drift_share']:.2f}" if row["drift_share"] is not None else "-"
            metric = f"{row['metric']:.3f}" if row["metric"] is not None else "-"
            verdict = "RETRAIN: " + row["note"] if row["retrain"] else (row["note"] or "ok")
            lines.append(f"  {row['day']:<11} {share:>11} {metric:>12}  {verdict[:110]}")
        retrained = [r["day"] for r in history if r["retrain"]]
        quiet = [r["day"] for r in history if r["retrain"] and r["day"] < drift_start.isoformat()]
        lines.append(f"  retraining triggered on: {', '.join(retrained) or 'never'}"
                     f"{' (before the drift!)' if quiet else ''}")
        lines.append("")
        figure = make_subplots(specs=[[{"secondary_y": True}]])
        x = [r["day"] for r in history]
        figure.add_trace(go.Scatter(x=x, y=[r["drift_share"] for r in history], name="drift share",
                                    mode="lines+markers"))
        figure.add_trace(go.Scatter(x=x, y=[r["metric"] for r in history], name=spec.primary_metric,
                                    mode="lines+markers"), secondary_y=True)
        for day in retrained:
            figure.add_vline(x=day, line_dash="dot", line_color="red")
        figure.add_vline(x=drift_start.isoformat(), line_color="grey")
        figure.update_layout(title=f"{model}: daily drift share and {spec.primary_metric} "
                                   f"(grey: drift begins; red: retraining triggered)", height=380)
        figures.append(figure)

    lines.append("Model registry:")
    for version in platform.registry.list_versions():
        m = version.metrics
        shown = ", ".join(f"{k}={m[k]:.3f}" for k in SHOWN_METRICS if k in m)
        baseline = ", ".join(f"{b}={m[b]:.3f}" for k, b in BASELINE_OF.items() if b in m)
        lines.append(f"  {version.model_name} v{version.version} {version.status}: {shown}")
        lines.append(f"      baseline {baseline}; reason: {version.reason[:100]}")
    lines += ["", "Rollouts (registry deployment history):"]
    for event in platform.registry.deployment_history():
        lines.append(f"  {event['model_name']} v{event['version']} {event['event']:<12} on {event['endpoint']} "
                     f"({event['run']}): {event['detail'][:150]}")
    lines += ["", "Live traffic while the rollouts baked (per variant):"]
    for name, report in live.items():
        lines.append(f"  {name}: {report['sent']} sent, {report['served']} served, {report['errors']} errors, "
                     f"{report['lost']} lost")
        for variant, stats in report["per_variant"].items():
            lines.append(f"      {variant:<22} {stats['requests']:>6} served, p50 {stats['p50_latency_ms']} ms, "
                         f"p95 {stats['p95_latency_ms']} ms")
    if ab_test_id is not None:
        from findining_mlops.abtest.lifecycle import ci_figure, history

        lines += [""] + ab_test_lines(platform, ab_test_id)
        test = platform.abtests.get(ab_test_id)
        figures.append(ci_figure(test, history(platform, test)))
    lines += ["", "Endpoints:"]
    for endpoint in platform.endpoints.list_endpoints():
        lines.append(f"  {endpoint.name} ({endpoint.status})")
        for v in endpoint.to_dict()["variants"]:
            lines.append(f"      {v['variant']:<22} {v['model']} v{v['version']}  "
                         f"{v['traffic_percent']:.0f} % of traffic")
    lines += ["", "Replayed traffic:"]
    lines += [f"  {get_model(m).endpoint_name}: {t['sent']} requests, {t['errors']} errors" for m, t in traffic.items()]
    alerts = platform.notifications.read() if hasattr(platform.notifications, "read") else []
    lines += ["", f"Alerts published: {len(alerts)}"]
    lines += [f"  {a['Subject']}" for a in alerts[-10:]]
    lines += ["", "Timings:"] + [f"  {step:<20} {seconds:7.1f} s" for step, seconds in timings.items()]

    body = [f"<pre>{html.escape(chr(10).join(lines))}</pre>"]
    body += [figure.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, figure in enumerate(figures)]
    key = "reports/demo/summary.html"
    platform.store.write_bytes(
        key,
        ("<!doctype html><html><head><meta charset='utf-8'><title>Find Dining MLOps demo</title></head><body>"
         + "\n".join(body) + "</body></html>").encode(),
    )
    return Summary("\n".join(lines), Path(platform.store.path(key)))
