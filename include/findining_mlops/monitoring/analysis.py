"""Daily model monitoring: the day's captured inferences against the version(s) that served them.

For one model and one day: load the data capture of every variant of the model's
endpoint, validate it, compare each version's requests with that version's reference
profile (drift), score them against the day's ground truth (performance), publish the
figures, write the reports, and decide (``monitoring.decision``) — with every reason and
its figure — whether to retrain.

Everything written is keyed on the day (``reports/<model>/dt=<day>/``) and holds no
wall-clock time, so a re-run or a backfill rewrites the same bytes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict

import pandas as pd

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.data import capture
from findining_mlops.errors import DataValidationError, FindiningError, MissingPartitionError
from findining_mlops.models.contract import MonitoringModule
from findining_mlops.monitoring.decision import (
    CHECKED,
    DATA_QUALITY,
    NO_GROUND_TRUTH,
    NO_TRAFFIC,
    DayFacts,
    DecisionDocument,
    EarlierDecision,
    MonitoringPolicy,
    retrain_decision,
)
from findining_mlops.platform.ports import MetricDatum, ModelVersion, Platform
from findining_mlops.registry.variants import version_of_variant
from findining_mlops.store import layout
from findining_mlops.store.json import dumps, read_json_if_exists
from findining_mlops.store.partitions import read_partition

METRICS_NAMESPACE = "FindDining/ModelMonitoring"


class DecisionOutOfOrderError(FindiningError):
    """A day's decision was asked for before the previous day's, whose streaks and episode it
    continues; the days' analyses may run in any order, their decisions only in date order."""


class VersionFigures(TypedDict):
    """What the decision and the published metrics read of one version's judgement of a day."""

    rows: int
    dataset_drift: bool
    drift_share: float
    drifted_columns: list[str]
    performance: float | None
    performance_drop: float | None


class DaySummary(TypedDict, total=False):
    """``analyze_day``'s result, which the DAG hands to ``decide``: the live version's figures
    at the top, every serving version's in ``per_version``."""

    model: str
    day: str
    outcome: str
    message: str
    live_version: int | None
    records: int
    malformed: int
    rows: int
    per_variant: dict[str, int]
    ground_truth_error: str
    primary_metric: str
    dataset_drift: bool
    drift_share: float
    drifted_columns: list[str]
    performance: float | None
    performance_drop: float | None
    per_version: dict[int, VersionFigures]
    data_quality: list[str]


@dataclass
class CapturedDay:
    rows: pd.DataFrame
    records: int
    malformed: int
    files: list[str]
    per_variant: dict[str, int]


def load_capture(platform: Platform, spec: ModelSpec, day: date, policy: MonitoringPolicy) -> CapturedDay:
    """The day's captured inferences of every variant, as feature rows. Malformed records
    are counted; above the policy's share the day fails, naming the partition."""
    module = spec.code.monitoring
    files = capture.day_files(platform.store, spec.endpoint_name, day)
    read = capture.read_rows(platform.store, files, module.capture_fields)
    records = read.records + read.malformed
    if records and read.malformed / records > policy.max_malformed_share:
        endpoint = platform.store.uri(layout.capture_prefix(spec.endpoint_name)).rstrip("/")
        partition = f"{endpoint}/<variant>/{day:%Y/%m/%d}/"
        raise DataValidationError(
            f"{read.malformed} of {records} capture records are malformed ({read.malformed / records:.1%} > "
            f"{policy.max_malformed_share:.0%}) in partition {partition}"
        )
    rows = pd.DataFrame()
    if read.rows:
        rows = module.capture_features(pd.DataFrame(read.rows)).assign(variant=read.variants)
    # a stable order: the same day reads into the same frame whatever the file listing order
    if not rows.empty:
        rows = rows.sort_values(["inference_id", *(c for c in ("restaurant_id",) if c in rows)], kind="mergesort",
                                ignore_index=True)
    return CapturedDay(rows, records, read.malformed, files, read.per_variant)


def load_reference(platform: Platform, version: ModelVersion) -> pd.DataFrame:
    key = layout.baseline_key(version.model_name, version.version, "reference.parquet")
    if not platform.store.exists(key):
        raise MissingPartitionError(
            f"{version.model_name} {version.display} has no reference profile at {platform.store.uri(key)}; "
            "re-run its registration (model_retraining) to store the baseline"
        )
    return pd.read_parquet(io.BytesIO(platform.store.read_bytes(key)))


def data_end(version: ModelVersion) -> date | None:
    days = version.lineage.get("data_snapshot", {}).get("days", {}).get("test")
    return date.fromisoformat(days[-1]) if days else None


def _plain(value: Any) -> Any:
    """The document in JSON's own types: dates as ISO text, numpy scalars as Python numbers
    (the store's ``dumps`` would write them as text)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_report(platform: Platform, model: str, day: date, name: str, document: Mapping) -> None:
    """A report of the day, ending in a newline as a text file does."""
    platform.store.write_bytes(layout.monitoring_report_key(model, day, name), dumps(_plain(document)) + b"\n")


def _read_report(platform: Platform, model: str, day: date, name: str) -> Any | None:
    return read_json_if_exists(platform.store, layout.monitoring_report_key(model, day, name))


def served_versions(spec: ModelSpec, captured: CapturedDay) -> dict[int, pd.DataFrame]:
    """The day's captured rows by the registry version that served them, in version order."""
    versions = captured.rows["variant"].map({v: version_of_variant(spec.name, v) for v in captured.per_variant})
    return {int(version): rows.reset_index(drop=True) for version, rows in captured.rows.groupby(versions, sort=True)}


@dataclass
class _Judged:
    """Each serving version's judgement of the day, by version number."""

    names: dict[int, str] = field(default_factory=dict)  # as a person reads it: v3 (1.1.0)
    drift: dict[int, dict] = field(default_factory=dict)  # only the versions whose drift could be judged
    performance: dict[int, dict] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)  # data-quality findings that stopped a drift judgement


def analyze_day(platform: Platform, spec: ModelSpec, day: date) -> DaySummary:
    """Drift and performance of one day; writes drift.json/.html and performance.json.

    The day is judged against the version(s) that served it — named by its data capture,
    never by what the endpoint serves now — so a backfill after a later promotion rewrites
    the same bytes. Each version is judged on its own requests, against its own reference
    profile and evaluation (``per_version``); the top-level figures, and so the retrain
    decision, are those of the version that served most of the day (``live_version``)."""
    policy = MonitoringPolicy.for_model(spec)
    captured = load_capture(platform, spec, day, policy)
    summary: DaySummary = {"model": spec.name, "day": day.isoformat(), "live_version": None,
                           "records": captured.records, "malformed": captured.malformed,
                           "rows": int(len(captured.rows)), "per_variant": captured.per_variant}
    if captured.rows.empty:
        summary["outcome"] = NO_TRAFFIC
        summary["message"] = (f"no captured inferences for {spec.endpoint_name} on {day} "
                              f"({layout.capture_day_prefix(spec.endpoint_name, '*', day)})")
        _write_report(platform, spec.name, day, "performance.json", summary)
        return summary
    try:
        truth = read_partition(platform, spec.dataset, day)
    except MissingPartitionError as exc:
        truth = None
        summary["ground_truth_error"] = str(exc)
    served = served_versions(spec, captured)
    live = max(served, key=lambda version: (len(served[version]), version))
    judged = _judge_versions(platform, spec, day, served, live, truth, policy)
    # the reports name the live version both ways, as a person reads it: v3 (1.1.0)
    heading = {"model": spec.name, "day": day.isoformat(), "live_version": live,
               "live_version_display": judged.names[live]}
    if judged.findings:
        return _data_quality_day(platform, spec, day, summary, heading, judged)
    return _checked_day(platform, spec, day, summary, heading, judged, served, truth is not None)


def _judge_versions(platform: Platform, spec: ModelSpec, day: date, served: dict[int, pd.DataFrame], live: int,
                    truth: pd.DataFrame | None, policy: MonitoringPolicy) -> _Judged:
    """Drift and performance of each version on its own requests; the live version's drift is
    also drawn as Evidently's HTML report."""
    from findining_mlops.monitoring.drift import detect_drift, render_html_report

    module = spec.code.monitoring
    numerical, categorical = module.DRIFT_NUMERICAL, module.DRIFT_CATEGORICAL
    columns = numerical + categorical
    judged = _Judged()
    for number, rows in served.items():
        version = platform.registry.get(spec.name, number)
        judged.names[number] = version.display
        reference = load_reference(platform, version)
        judged.performance[number] = _performance(spec, module, version, rows, truth)
        try:
            # a column the capture lacks is left for detect_drift to refuse by name
            drift = detect_drift(reference[columns], rows[[c for c in columns if c in rows]], numerical, categorical,
                                 drift_share=policy.drift_share)
        except DataValidationError as exc:
            judged.findings.append(f"{version.display}: {exc}")
            continue
        judged.drift[number] = {"reference_rows": int(len(reference)), "current_rows": int(len(rows)),
                                **drift.to_dict()}
        if number == live and policy.html_sample_size > 0:
            html = render_html_report(reference[columns], rows[columns], numerical, categorical,
                                      sample_size=policy.html_sample_size, seed=0)
            platform.store.write_bytes(layout.monitoring_report_key(spec.name, day, "drift.html"), html.encode())
    return judged


def _checked_day(platform: Platform, spec: ModelSpec, day: date, summary: DaySummary, heading: dict,
                 judged: _Judged, served: dict[int, pd.DataFrame], has_truth: bool) -> DaySummary:
    """Writes the reports of a day whose drift could be judged, and publishes its figures."""
    live = heading["live_version"]
    _write_report(platform, spec.name, day, "drift.json",
                  {**heading, **judged.drift[live], "per_version": judged.drift})
    performance = {**heading, "primary_metric": spec.primary_metric, **judged.performance[live],
                   "per_version": judged.performance}
    if has_truth:
        summary["outcome"] = CHECKED
        performance["outcome"] = CHECKED
    else:
        summary["outcome"] = NO_GROUND_TRUTH
        summary["message"] = f"ground truth missing for {day}: {summary['ground_truth_error']}"
        performance.update(outcome=NO_GROUND_TRUTH, message=summary["message"])
    _write_report(platform, spec.name, day, "performance.json", performance)
    per_version = {number: _figures(spec, judged.drift[number], judged.performance[number], len(rows))
                   for number, rows in served.items()}
    summary.update({"live_version": live, "primary_metric": spec.primary_metric, **per_version[live],
                    "per_version": per_version})
    publish_metrics(platform, spec, day, summary)
    return summary


def _data_quality_day(platform: Platform, spec: ModelSpec, day: date, summary: DaySummary, heading: dict,
                      judged: _Judged) -> DaySummary:
    """Writes the reports of a day whose captured features do not match a serving version's
    reference profile: the findings instead of a drift judgement, the performance as scored.
    Nothing is published as metrics, since a drift share of a mismatched column would mislead."""
    message = (f"captured features of {spec.name} on {day} do not match the reference profile: "
               + "; ".join(judged.findings))
    quality = {"outcome": DATA_QUALITY, "message": message, "data_quality": judged.findings}
    _write_report(platform, spec.name, day, "drift.json", {**heading, **quality, "per_version": judged.drift})
    _write_report(platform, spec.name, day, "performance.json",
                  {**heading, "primary_metric": spec.primary_metric, **judged.performance[heading["live_version"]],
                   "per_version": judged.performance, **quality})
    summary.update({"live_version": heading["live_version"], "outcome": DATA_QUALITY, "message": message,
                    "data_quality": judged.findings})
    return summary


def _performance(spec: ModelSpec, module: MonitoringModule, version: ModelVersion, rows: pd.DataFrame,
                 truth: pd.DataFrame | None) -> dict:
    """One version's requests scored against the day's ground truth, and its drop from the
    version's own evaluation."""
    scored: dict = {"reference_value": version.metrics.get(spec.primary_metric)}
    if truth is not None:
        scored["current"] = module.performance(rows, truth)
        current = scored["current"].get(spec.primary_metric)
        if current is not None and scored["reference_value"] is not None:
            scored["drop"] = scored["reference_value"] - current
    return scored


def _figures(spec: ModelSpec, drift: dict, performance: dict, rows: int) -> VersionFigures:
    return {"rows": rows, "dataset_drift": drift["dataset_drift"], "drift_share": drift["drift_share"],
            "drifted_columns": sorted(c for c, d in drift["columns"].items() if d["drifted"]),
            "performance": performance.get("current", {}).get(spec.primary_metric),
            "performance_drop": performance.get("drop")}


def publish_metrics(platform: Platform, spec: ModelSpec, day: date, summary: DaySummary) -> None:
    """Publishes the day's figures once, per version that served it (the day's malformed
    records, which name no version, with the live version's); a retried task finds its
    own marker and skips."""
    when = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    data = []
    for version, judged in summary["per_version"].items():
        figures = {"DriftShare": judged["drift_share"], "DriftedColumns": len(judged["drifted_columns"]),
                   "CapturedRows": judged["rows"], f"Performance_{spec.primary_metric}": judged["performance"],
                   "PerformanceDrop": judged["performance_drop"]}
        if version == summary["live_version"]:
            figures["MalformedRecords"] = summary["malformed"]
        dims = {"Model": spec.name, "Version": str(version)}
        data += [MetricDatum(name, float(value), dims, when) for name, value in figures.items() if value is not None]
    payload = _plain({"namespace": METRICS_NAMESPACE,
                      "data": [{**asdict(d), "timestamp": when.isoformat()} for d in data]})
    if _read_report(platform, spec.name, day, "published-metrics.json") == json.loads(dumps(payload)):
        return
    platform.metrics.put(METRICS_NAMESPACE, data)
    _write_report(platform, spec.name, day, "published-metrics.json", payload)


def decide(platform: Platform, spec: ModelSpec, day: date, analysis: DaySummary) -> DecisionDocument:
    """The retrain decision (``decision.retrain_decision``) of the day's analysis, continuing the
    decisions of the days before it; written to decision.json."""
    policy = MonitoringPolicy.for_model(spec)
    earlier = _earlier_decisions(platform, spec, day, max(policy.cooldown_days, 1))
    document = retrain_decision(_day_facts(platform, spec, day, analysis), earlier, policy).to_document()
    _write_report(platform, spec.name, day, "decision.json", document)
    return document


def _day_facts(platform: Platform, spec: ModelSpec, day: date, analysis: DaySummary) -> DayFacts:
    live = analysis.get("live_version")
    return DayFacts(
        model=spec.name, day=day, check=analysis["outcome"], rows=analysis.get("rows", 0),
        message=analysis.get("message"), live_version=live, dataset_drift=bool(analysis.get("dataset_drift")),
        drift_share=analysis.get("drift_share", 0.0), drifted_columns=tuple(analysis.get("drifted_columns", ())),
        primary_metric=spec.primary_metric, performance=analysis.get("performance"),
        performance_drop=analysis.get("performance_drop"),
        trained_until=data_end(platform.registry.get(spec.name, live)) if live else None,
        data_quality=tuple(analysis.get("data_quality", ())),
    )


def _earlier_decisions(platform: Platform, spec: ModelSpec, day: date, days: int) -> list[EarlierDecision]:
    """The decisions of the ``days`` days before ``day`` that were made. Refuses while the day
    before is analyzed but not yet decided, as in a backfill whose days are analyzed side by side."""
    earlier = []
    for back in range(1, days + 1):
        document = _read_report(platform, spec.name, day - timedelta(days=back), "decision.json")
        if document is not None:
            earlier.append(_earlier_decision(day - timedelta(days=back), document))
    yesterday = day - timedelta(days=1)
    if (not any(d.day == yesterday for d in earlier)
            and platform.store.exists(layout.monitoring_report_key(spec.name, yesterday, "performance.json"))):
        raise DecisionOutOfOrderError(
            f"{spec.name} {day}: {yesterday} is analyzed but not decided yet, and this decision "
            f"continues its streaks; decide {yesterday} first (model_monitoring's decide task waits "
            "for the previous run's with depends_on_past)")
    return earlier


def _earlier_decision(day: date, document: DecisionDocument) -> EarlierDecision:
    start = document.get("episode_start")
    return EarlierDecision(
        day=day, retrain=bool(document.get("retrain")), in_episode=bool(document.get("in_episode")),
        episode_start=date.fromisoformat(start) if start else None,
        episode_retrained=bool(document.get("episode_retrained")),
        streaks={rule["rule"]: rule.get("streak", 0) for rule in document.get("rules", [])},
    )


def retraining_run_id(model: str, day: date) -> str:
    """One retraining per model and monitored day, whatever the number of re-runs."""
    return f"monitoring__{model}__{day.isoformat()}"
