"""Human-readable summaries of the platform's state: text for the terminal, HTML with plots."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from findining_mlops.catalog import get_model, model_names
from findining_mlops.platform.ports import Platform

BASELINE_OF = {"ndcg_at_10": "popularity_ndcg_at_10", "hit_rate_at_10": "popularity_hit_rate_at_10",
               "macro_f1": "majority_class_macro_f1"}


@dataclass(frozen=True)
class Summary:
    text: str
    html_path: Path


def demo_summary(platform: Platform, traffic: dict[str, dict], timings: dict[str, float]) -> Summary:
    import plotly.graph_objects as go

    lines = ["", "=== Find Dining MLOps demo summary ===", "", "Model registry:"]
    figures = []
    for model in model_names():
        for version in platform.registry.list_versions(model):
            m = version.metrics
            shown = ", ".join(f"{k}={m[k]:.3f}" for k in ("ndcg_at_10", "hit_rate_at_10", "auc", "macro_f1", "accuracy") if k in m)
            lines.append(f"  {model} v{version.version} {version.status}: {shown}")
            lines.append(f"      artifact {version.artifact_uri}")
            lines.append(f"      trained by {version.lineage.get('training_job')} on {version.lineage.get('data_snapshot', {}).get('rows')}")
            compared = {k: (m[k], m[b]) for k, b in BASELINE_OF.items() if k in m and b in m}
            if compared:
                figures.append(
                    go.Figure(
                        [go.Bar(name=f"{model} v{version.version}", x=list(compared), y=[v[0] for v in compared.values()]),
                         go.Bar(name="baseline", x=list(compared), y=[v[1] for v in compared.values()])],
                        layout={"title": f"{model} v{version.version} vs its naive baseline (holdout)", "barmode": "group",
                                "height": 350},
                    )
                )
    lines += ["", "Endpoints:"]
    for endpoint in platform.endpoints.list_endpoints():
        lines.append(f"  {endpoint.name} ({endpoint.status})")
        for v in endpoint.to_dict()["variants"]:
            lines.append(f"      {v['variant']:<22} {v['model']} v{v['version']}  {v['traffic_percent']:.0f} % of traffic")
    lines += ["", "Replayed traffic:"]
    for model, report in traffic.items():
        lines.append(f"  {get_model(model).endpoint_name}: {report['sent']} requests, {report['errors']} errors")
        for variant, stats in report["per_variant"].items():
            lines.append(f"      {variant:<22} {stats['requests']} served, p50 {stats['p50_latency_ms']} ms, "
                         f"p95 {stats['p95_latency_ms']} ms")
    alerts = platform.notifications.read() if hasattr(platform.notifications, "read") else []
    lines += ["", f"Alerts published: {len(alerts)}", "", "Timings:"]
    lines += [f"  {step:<18} {seconds:7.1f} s" for step, seconds in timings.items()]

    body = [f"<pre>{html.escape(chr(10).join(lines))}</pre>"]
    for i, figure in enumerate(figures):
        body.append(figure.to_html(full_html=False, include_plotlyjs=(i == 0)))
    key = "reports/demo/summary.html"
    platform.store.write_bytes(
        key,
        ("<!doctype html><html><head><meta charset='utf-8'><title>Find Dining MLOps demo</title></head><body>"
         + "\n".join(body) + "</body></html>").encode(),
    )
    return Summary("\n".join(lines), Path(platform.store.path(key)))
