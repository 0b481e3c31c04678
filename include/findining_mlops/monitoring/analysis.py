"""Daily model monitoring: the day's captured inferences against the version(s) that served them.

For one model and one day: load the data capture of every variant of the model's
endpoint, validate it, compare each version's requests with that version's reference
profile (drift), score them against the day's ground truth (performance), publish the
figures, write the reports, and decide — with every reason and its figure — whether to
retrain.

Everything written is keyed on the day (``reports/<model>/dt=<day>/``) and holds no
wall-clock time, so a re-run or a backfill rewrites the same bytes.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from types import ModuleType

import pandas as pd

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.data.capture import parse_record
from findining_mlops.errors import ConfigurationError, DataValidationError, FindiningError, MissingPartitionError
from findining_mlops.platform.ports import MetricDatum, ModelVersion, Platform
from findining_mlops.registry.baselines import baseline_prefix
from findining_mlops.registry.variants import version_of_variant
from findining_mlops.store.partitions import read_partition

log = logging.getLogger(__name__)
METRICS_NAMESPACE = "FindDining/ModelMonitoring"

# outcomes of a day's check
CHECKED = "checked"
NO_TRAFFIC = "no_traffic"
NO_GROUND_TRUTH = "ground_truth_missing"
# the captured features no longer match a serving version's reference profile (a column
# missing, or numbers turned text): a fault of the data feed, alerted, never judged as drift
DATA_QUALITY = "data_quality"


class DecisionOutOfOrderError(FindiningError):
    """A day's decision was asked for before the previous day's, whose streaks and episode it
    continues; the days' analyses may run in any order, their decisions only in date order."""


@dataclass(frozen=True)
class MonitoringPolicy:
    """When a model is retrained. Every figure is per model in ``models.toml``."""

    drift_share: float = 0.5  # share of drifted columns that means dataset drift (Evidently's default)
    max_performance_drop: float = 0.05  # absolute drop of the primary metric vs the version's own evaluation
    max_data_age_days: int = 60  # days since the live version's newest training day
    cooldown_days: int = 3  # no second retraining this soon after one
    # drift and performance rules must fire this many days in a row: at a 5 % test level a
    # single day's alarm is expected about once a month on a perfectly stable stream
    consecutive_days: int = 2
    min_rows: int = 100  # fewer captured rows than this decide nothing
    max_malformed_share: float = 0.05  # more malformed capture records than this fail the run
    html_sample_size: int = 5000  # rows per side in the human-readable Evidently report; 0 = none

    @classmethod
    def for_model(cls, spec: ModelSpec) -> MonitoringPolicy:
        known = {f.name for f in fields(cls)}
        unknown = set(spec.monitoring) - known
        if unknown:
            raise ConfigurationError(
                f"[models.{spec.name}] monitoring has unknown setting(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**spec.monitoring)


def report_prefix(model: str, day: date) -> str:
    return f"reports/{model}/dt={day.isoformat()}"


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
    module = importlib.import_module(spec.monitoring_module)
    marker = f"/{day:%Y/%m/%d}/"
    files = [k for k in platform.store.list_keys(f"datacapture/{spec.endpoint_name}/")
             if marker in k and k.endswith(".jsonl")]
    fields, variants, malformed, records, per_variant = [], [], 0, 0, {}
    for key in sorted(files):
        variant = key.split("/")[2]
        for line in platform.store.read_bytes(key).decode("utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            records += 1
            try:
                rows = module.capture_fields(parse_record(line))
            except (ValueError, KeyError, TypeError) as exc:
                malformed += 1
                log.debug("malformed capture record in %s: %s", key, exc)
                continue
            fields += rows
            variants += [variant] * len(rows)
            per_variant[variant] = per_variant.get(variant, 0) + 1
    if records and malformed / records > policy.max_malformed_share:
        raise DataValidationError(
            f"{malformed} of {records} capture records are malformed ({malformed / records:.1%} > "
            f"{policy.max_malformed_share:.0%}) in partition {platform.store.uri(f'datacapture/{spec.endpoint_name}/')}"
            f"<variant>{marker}"
        )
    rows = module.capture_features(pd.DataFrame(fields)).assign(variant=variants) if fields else pd.DataFrame()
    # a stable order: the same day reads into the same frame whatever the file listing order
    if not rows.empty:
        rows = rows.sort_values(["inference_id", *(c for c in ("restaurant_id",) if c in rows)], kind="mergesort",
                                ignore_index=True)
    return CapturedDay(rows, records, malformed, files, dict(sorted(per_variant.items())))


def load_reference(platform: Platform, version: ModelVersion) -> pd.DataFrame:
    key = f"{baseline_prefix(version.model_name, version.version)}/reference.parquet"
    if not platform.store.exists(key):
        raise MissingPartitionError(
            f"{version.model_name} {version.display} has no reference profile at {platform.store.uri(key)}; "
            "re-run its registration (model_retraining) to store the baseline"
        )
    return pd.read_parquet(io.BytesIO(platform.store.read_bytes(key)))


def data_end(version: ModelVersion) -> date | None:
    days = version.lineage.get("data_snapshot", {}).get("days", {}).get("test")
    return date.fromisoformat(days[-1]) if days else None


def _write_json(platform: Platform, key: str, payload: dict) -> None:
    platform.store.write_bytes(key, (json.dumps(payload, indent=2, sort_keys=True, default=_jsonable) + "\n").encode())


def _jsonable(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _read_json(platform: Platform, key: str) -> dict | None:
    return json.loads(platform.store.read_bytes(key)) if platform.store.exists(key) else None


def served_versions(spec: ModelSpec, captured: CapturedDay) -> dict[int, pd.DataFrame]:
    """The day's captured rows by the registry version that served them, in version order."""
    versions = captured.rows["variant"].map({v: version_of_variant(spec.name, v) for v in captured.per_variant})
    return {int(version): rows.reset_index(drop=True) for version, rows in captured.rows.groupby(versions, sort=True)}


def analyze_day(platform: Platform, spec: ModelSpec, day: date) -> dict:
    """Drift and performance of one day; writes drift.json/.html and performance.json.

    The day is judged against the version(s) that served it — named by its data capture,
    never by what the endpoint serves now — so a backfill after a later promotion rewrites
    the same bytes. Each version is judged on its own requests, against its own reference
    profile and evaluation (``per_version``); the top-level figures, and so the retrain
    decision, are those of the version that served most of the day (``live_version``)."""
    from findining_mlops.monitoring.drift import detect_drift, render_html_report

    policy = MonitoringPolicy.for_model(spec)
    prefix = report_prefix(spec.name, day)
    module = importlib.import_module(spec.monitoring_module)
    captured = load_capture(platform, spec, day, policy)
    summary = {"model": spec.name, "day": day.isoformat(), "live_version": None, "records": captured.records,
               "malformed": captured.malformed, "rows": int(len(captured.rows)), "per_variant": captured.per_variant}
    if captured.rows.empty:
        summary["outcome"] = NO_TRAFFIC
        summary["message"] = (f"no captured inferences for {spec.endpoint_name} on {day} "
                              f"(datacapture/{spec.endpoint_name}/*/{day:%Y/%m/%d}/)")
        _write_json(platform, f"{prefix}/performance.json", summary)
        return summary

    try:
        truth = read_partition(platform, spec.dataset, day)
    except MissingPartitionError as exc:
        truth = None
        summary["ground_truth_error"] = str(exc)
    served = served_versions(spec, captured)
    live = max(served, key=lambda version: (len(served[version]), version))
    columns = module.DRIFT_NUMERICAL + module.DRIFT_CATEGORICAL
    drift_reports, performances, findings, names = {}, {}, [], {}
    for number, rows in served.items():
        version = platform.registry.get(spec.name, number)
        names[number] = version.display
        reference = load_reference(platform, version)
        performances[number] = _performance(spec, module, version, rows, truth)
        try:
            # a column the capture lacks is left for detect_drift to refuse by name
            drift = detect_drift(reference[columns], rows[[c for c in columns if c in rows]], module.DRIFT_NUMERICAL,
                                 module.DRIFT_CATEGORICAL, drift_share=policy.drift_share)
        except DataValidationError as exc:
            findings.append(f"{version.display}: {exc}")
            continue
        drift_reports[number] = {"reference_rows": int(len(reference)), "current_rows": int(len(rows)),
                                 **drift.to_dict()}
        if number == live and policy.html_sample_size > 0:
            html = render_html_report(reference[columns], rows[columns], module.DRIFT_NUMERICAL,
                                      module.DRIFT_CATEGORICAL, sample_size=policy.html_sample_size, seed=0)
            platform.store.write_bytes(f"{prefix}/drift.html", html.encode())

    # the reports name the live version both ways, as a person reads it: v3 (1.1.0)
    heading = {"model": spec.name, "day": day.isoformat(), "live_version": live, "live_version_display": names[live]}
    if findings:
        return _data_quality_day(platform, spec, day, summary, heading, findings, drift_reports, performances)
    _write_json(platform, f"{prefix}/drift.json", {**heading, **drift_reports[live], "per_version": drift_reports})
    performance = {**heading, "primary_metric": spec.primary_metric, **performances[live], "per_version": performances}
    if truth is None:
        summary["outcome"] = NO_GROUND_TRUTH
        summary["message"] = f"ground truth missing for {day}: {summary['ground_truth_error']}"
        performance.update(outcome=NO_GROUND_TRUTH, message=summary["message"])
    else:
        summary["outcome"] = CHECKED
        performance["outcome"] = CHECKED
    _write_json(platform, f"{prefix}/performance.json", performance)
    per_version = {number: _figures(spec, drift_reports[number], performances[number], len(rows))
                   for number, rows in served.items()}
    summary.update(live_version=live, primary_metric=spec.primary_metric, **per_version[live], per_version=per_version)
    publish_metrics(platform, spec, day, summary)
    return summary


def _data_quality_day(platform: Platform, spec: ModelSpec, day: date, summary: dict, heading: dict,
                      findings: list[str], drift_reports: dict, performances: dict) -> dict:
    """Writes the reports of a day whose captured features do not match a serving version's
    reference profile: the findings instead of a drift judgement, the performance as scored.
    Nothing is published as metrics, since a drift share of a mismatched column would mislead."""
    prefix = report_prefix(spec.name, day)
    message = (f"captured features of {spec.name} on {day} do not match the reference profile: "
               + "; ".join(findings))
    quality = {"outcome": DATA_QUALITY, "message": message, "data_quality": findings}
    _write_json(platform, f"{prefix}/drift.json", {**heading, **quality, "per_version": drift_reports})
    _write_json(platform, f"{prefix}/performance.json", {**heading, "primary_metric": spec.primary_metric,
                                                         **performances[heading["live_version"]],
                                                         "per_version": performances, **quality})
    summary.update(live_version=heading["live_version"], **quality)
    return summary


def _performance(spec: ModelSpec, module: ModuleType, version: ModelVersion, rows: pd.DataFrame,
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


def _figures(spec: ModelSpec, drift: dict, performance: dict, rows: int) -> dict:
    """What the decision and the published metrics read of one version's judgement."""
    return {"rows": rows, "dataset_drift": drift["dataset_drift"], "drift_share": drift["drift_share"],
            "drifted_columns": sorted(c for c, d in drift["columns"].items() if d["drifted"]),
            "performance": performance.get("current", {}).get(spec.primary_metric),
            "performance_drop": performance.get("drop")}


def publish_metrics(platform: Platform, spec: ModelSpec, day: date, summary: dict) -> None:
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
    marker_key = f"{report_prefix(spec.name, day)}/published-metrics.json"
    payload = {"namespace": METRICS_NAMESPACE, "data": [{**asdict(d), "timestamp": when.isoformat()} for d in data]}
    if _read_json(platform, marker_key) == json.loads(json.dumps(payload)):
        return
    platform.metrics.put(METRICS_NAMESPACE, data)
    _write_json(platform, marker_key, payload)


def decide(platform: Platform, spec: ModelSpec, day: date, analysis: dict) -> dict:
    """The retrain decision with every rule, its figure and threshold; written to decision.json.

    A drift or performance rule counts once it has fired on ``consecutive_days`` days in a
    row. One episode (consecutive days on which any rule fires) starts at most one
    retraining, and no retraining follows another within the cool-down."""
    policy = MonitoringPolicy.for_model(spec)
    rules = []
    outcome = analysis["outcome"]
    if outcome in (CHECKED, NO_GROUND_TRUTH):
        rules.append({"rule": "dataset_drift", "value": analysis["drift_share"], "threshold": policy.drift_share,
                      "fired": bool(analysis["dataset_drift"]),
                      "detail": f"drifted columns: {', '.join(analysis['drifted_columns']) or 'none'}"})
        drop = analysis.get("performance_drop")
        if drop is not None:
            rules.append({"rule": "performance_drop", "value": round(drop, 6), "threshold": policy.max_performance_drop,
                          "fired": drop > policy.max_performance_drop,
                          "detail": f"{spec.primary_metric} {analysis['performance']:.4f} vs its evaluation"})
    live = platform.registry.get(spec.name, analysis["live_version"]) if analysis.get("live_version") else None
    trained_until = data_end(live) if live else None
    if trained_until is not None:
        age = (day - trained_until).days
        rules.append({"rule": "data_age_days", "value": age, "threshold": policy.max_data_age_days,
                      "fired": age > policy.max_data_age_days, "detail": f"trained on data up to {trained_until}"})
    previous = _previous_decision(platform, spec, day)
    streaks = {r["rule"]: r.get("streak", 0) for r in (previous or {}).get("rules", [])}
    for rule in rules:
        rule["streak"] = streaks.get(rule["rule"], 0) + 1 if rule["fired"] else 0
        persistent = rule["rule"] == "data_age_days"  # age does not fluctuate; no need to wait
        rule["confirmed"] = rule["fired"] and (persistent or rule["streak"] >= policy.consecutive_days)
    fired = [r for r in rules if r["confirmed"]]

    in_episode = any(r["fired"] for r in rules)
    episode_start = (previous["episode_start"] if previous and previous.get("in_episode") else day.isoformat()) \
        if in_episode else None
    episode_retrained = bool(previous and previous.get("in_episode") and previous.get("episode_retrained"))
    recent = [d for d in (_read_json(platform, f"{report_prefix(spec.name, day - timedelta(days=k))}/decision.json")
                          for k in range(1, policy.cooldown_days + 1)) if d and d.get("retrain")]

    suppressed = None
    if outcome != CHECKED and outcome != NO_GROUND_TRUTH:
        suppressed = analysis.get("message", outcome)
    elif analysis.get("rows", 0) < policy.min_rows:
        suppressed = f"only {analysis.get('rows', 0)} captured rows (< min_rows {policy.min_rows})"
    elif fired and episode_retrained:
        suppressed = f"retraining already triggered for the episode that began on {episode_start}"
    elif fired and recent:
        suppressed = f"cool-down: retraining triggered on {recent[0]['day']} (< {policy.cooldown_days} days ago)"
    elif not fired and in_episode:
        suppressed = "awaiting confirmation: " + ", ".join(
            f"{r['rule']} fired {r['streak']} of {policy.consecutive_days} days" for r in rules if r["fired"])
    retrain = bool(fired) and suppressed is None
    reason = "; ".join(f"{r['rule']}={r['value']} (threshold {r['threshold']}, {r['streak']} day(s) in a row; "
                       f"{r['detail']})" for r in fired)
    decision = {
        "model": spec.name,
        "day": day.isoformat(),
        "outcome": outcome,
        "live_version": analysis.get("live_version"),
        "retrain": retrain,
        "reason": reason or "no rule fired",
        "suppressed_by": suppressed,
        "data_quality": analysis.get("data_quality", []),
        "rules": rules,
        "in_episode": in_episode,
        "episode_start": episode_start,
        "episode_retrained": bool(in_episode and (episode_retrained or retrain)),
    }
    _write_json(platform, f"{report_prefix(spec.name, day)}/decision.json", decision)
    return decision


def _previous_decision(platform: Platform, spec: ModelSpec, day: date) -> dict | None:
    """The day before's decision; None if that day was never monitored. Refuses while that day
    is analyzed but not yet decided, as in a backfill whose days are analyzed side by side."""
    before = report_prefix(spec.name, day - timedelta(days=1))
    previous = _read_json(platform, f"{before}/decision.json")
    if previous is None and platform.store.exists(f"{before}/performance.json"):
        raise DecisionOutOfOrderError(
            f"{spec.name} {day}: {day - timedelta(days=1)} is analyzed but not decided yet, and this decision "
            f"continues its streaks; decide {day - timedelta(days=1)} first (model_monitoring's decide task waits "
            "for the previous run's with depends_on_past)")
    return previous


def retraining_run_id(model: str, day: date) -> str:
    """One retraining per model and monitored day, whatever the number of re-runs."""
    return f"monitoring__{model}__{day.isoformat()}"
