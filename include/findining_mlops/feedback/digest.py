"""The daily negative-feedback digest: the day's feedback the sentiment model scores
negative → analyses → per-restaurant counts per aspect, severities, example summaries →
an alert for each restaurant whose hygiene or safety complaints spike against its own
last 28 days.

Everything is keyed on the day under ``reports/feedback/dt=<day>/``: a re-run rewrites the
same files, and ``alerts.json`` remembers which spikes were announced, so each is alerted
once however often the day runs.
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TypedDict

import pandas as pd
from scipy.stats import poisson

from findining_mlops.data.feedback import ASPECTS
from findining_mlops.feedback.results import ANALYZED, Analyzer, FeedbackRecord, FeedbackResult, analyze
from findining_mlops.platform.ports import Platform
from findining_mlops.store.json import read_json_if_exists
from findining_mlops.store.layout import feedback_digest_prefix

BASELINE_DAYS = 28
MIN_SPIKE_COMPLAINTS = 3  # fewer is never a spike, however quiet the restaurant was
SPIKE_P_VALUE = 0.001  # Poisson tail of today's count under the restaurant's own daily rate
SPIKE_REASONS = ("hygiene", "safety")
EXAMPLES_PER_RESTAURANT = 3


class AnalysisRecord(FeedbackRecord):
    """One line of the day's ``analyses.jsonl``: a result and the restaurant it is about."""

    restaurant_id: str


class Example(TypedDict):
    feedback_id: str | None
    summary: str
    aspects: list[str]
    needs_attention: bool


class RestaurantDigest(TypedDict):
    negative: int  # analyzed negative feedback
    failed: int  # not analyzed
    attention: int  # hygiene or safety complaints
    aspects: dict[str, int]  # aspect -> complaints
    max_severity: dict[str, int]  # aspect -> highest severity
    examples: list[Example]


class Spike(TypedDict):
    restaurant_id: str
    complaints: int
    baseline_daily_rate: float
    baseline_days: int
    p_value: float


class Digest(TypedDict):
    """The day's ``digest.json``: what the page shows and the spikes are alerted from."""

    day: str  # ISO date
    analyzed: int
    failed: int
    aspects: dict[str, int]  # aspect -> complaints over every restaurant
    restaurants: dict[str, RestaurantDigest]
    spikes: list[Spike]


def negative_rows(frame: pd.DataFrame, sentiment_model) -> pd.DataFrame:
    """The rows the sentiment model scores negative."""
    if frame.empty:
        return frame
    return frame[sentiment_model.predict(frame["text"].astype(str)) == "negative"].reset_index(drop=True)


def negative_feedback(platform: Platform, day: date, sentiment_model) -> pd.DataFrame:
    """The day's feedback the sentiment model scores negative; a missing day fails by name."""
    from findining_mlops.store.partitions import read_partition, require_partitions

    require_partitions(platform, "feedback", [day])
    return negative_rows(read_partition(platform, "feedback", day), sentiment_model)


def analyze_day(platform: Platform, day: date, analyzer: Analyzer, sentiment_model) -> list[AnalysisRecord]:
    """The analysis (or failure) of each of the day's negative feedback, one call each."""
    rows = negative_feedback(platform, day, sentiment_model)
    return write_analyses(platform, day, [analyze(analyzer, row.text, row.inference_id) for row in rows.itertuples()],
                          dict(zip(rows["inference_id"], rows["restaurant_id"], strict=False)))


def write_analyses(platform: Platform, day: date, results: Iterable[FeedbackResult],
                   restaurants: dict[str, str]) -> list[AnalysisRecord]:
    """The results with their restaurants, as ``analyses.jsonl`` (rewritten whole on a re-run)."""
    records: list[AnalysisRecord] = [{**result.to_dict(), "restaurant_id": restaurants[result.feedback_id]}
                                     for result in results]
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    platform.store.write_bytes(feedback_digest_prefix(day) + "analyses.jsonl", body.encode())
    return records


def read_analyses(platform: Platform, day: date) -> list[AnalysisRecord]:
    text = platform.store.read_bytes(feedback_digest_prefix(day) + "analyses.jsonl").decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _read_digest(platform: Platform, day: date) -> Digest | None:
    return read_json_if_exists(platform.store, feedback_digest_prefix(day) + "digest.json")


def build_digest(platform: Platform, day: date, records: Iterable[AnalysisRecord]) -> Digest:
    """Per-restaurant counts and examples, plus the spikes against each one's last 28 days."""
    per_restaurant: dict[str, dict] = defaultdict(lambda: {
        "negative": 0, "failed": 0, "aspects": Counter(), "max_severity": Counter(), "attention": 0, "examples": []})
    failed = 0
    for record in records:
        entry = per_restaurant[record["restaurant_id"]]
        if record["status"] != ANALYZED:
            entry["failed"] += 1
            failed += 1
            continue
        analysis = record["analysis"]
        entry["negative"] += 1
        for aspect in analysis["aspects"]:
            entry["aspects"][aspect["aspect"]] += 1
            entry["max_severity"][aspect["aspect"]] = max(entry["max_severity"][aspect["aspect"]], aspect["severity"])
        if set(analysis["attention_reasons"]) & set(SPIKE_REASONS):
            entry["attention"] += 1
        if len(entry["examples"]) < EXAMPLES_PER_RESTAURANT:
            entry["examples"].append({"feedback_id": record["feedback_id"], "summary": analysis["summary"],
                                      "aspects": [a["aspect"] for a in analysis["aspects"]],
                                      "needs_attention": analysis["needs_attention"]})
    restaurants: dict[str, RestaurantDigest] = {
        rid: {"negative": e["negative"], "failed": e["failed"], "attention": e["attention"],
              "aspects": {a: e["aspects"][a] for a in ASPECTS if e["aspects"][a]},
              "max_severity": {a: e["max_severity"][a] for a in ASPECTS if e["max_severity"][a]},
              "examples": e["examples"]}
        for rid, e in sorted(per_restaurant.items(), key=lambda kv: (-kv[1]["attention"], -kv[1]["negative"], kv[0]))
    }
    totals = Counter()
    for entry in restaurants.values():
        totals.update(entry["aspects"])
    return {"day": day.isoformat(), "analyzed": sum(e["negative"] for e in restaurants.values()), "failed": failed,
            "aspects": {a: totals[a] for a in ASPECTS}, "restaurants": restaurants,
            "spikes": spikes(platform, day, restaurants)}


def spikes(platform: Platform, day: date, restaurants: dict[str, RestaurantDigest]) -> list[Spike]:
    """Restaurants whose hygiene/safety complaints today are improbable under their own
    daily rate over the last 28 digests. The rate starts from a prior of one complaint in
    28 days, so a restaurant without history stands out at ``MIN_SPIKE_COMPLAINTS`` and one
    with a steady trickle needs more."""
    candidates = {rid: e["attention"] for rid, e in restaurants.items() if e["attention"] >= MIN_SPIKE_COMPLAINTS}
    if not candidates:
        return []
    history = [d for d in (_read_digest(platform, day - timedelta(days=k)) for k in range(1, BASELINE_DAYS + 1)) if d]
    found: list[Spike] = []
    for rid, count in sorted(candidates.items()):
        past = sum(d["restaurants"].get(rid, {}).get("attention", 0) for d in history)
        rate = (past + 1) / (len(history) + BASELINE_DAYS)
        p_value = float(poisson.sf(count - 1, rate))
        if p_value < SPIKE_P_VALUE:
            found.append({"restaurant_id": rid, "complaints": count, "baseline_daily_rate": round(rate, 4),
                          "baseline_days": len(history), "p_value": p_value})
    return found


def write_digest(platform: Platform, day: date, digest: Digest) -> list[str]:
    prefix = feedback_digest_prefix(day)
    return [platform.store.write_bytes(prefix + "digest.json",
                                       json.dumps(digest, indent=2, ensure_ascii=False).encode()),
            platform.store.write_bytes(prefix + "digest.html", render_html(digest).encode())]


def alert_spikes(platform: Platform, digest: Digest) -> list[str]:
    """Publishes one alert per spiking restaurant not yet announced for this day; returns
    the restaurants alerted now."""
    key = feedback_digest_prefix(date.fromisoformat(digest["day"])) + "alerts.json"
    done = set(read_json_if_exists(platform.store, key) or ())
    alerted = []
    for spike in digest["spikes"]:
        rid = spike["restaurant_id"]
        if rid in done:
            continue
        examples = "\n".join(f"- {x['summary']}" for x in digest["restaurants"][rid]["examples"])
        platform.notifications.publish(
            f"[findining] hygiene/safety spike at restaurant {rid} on {digest['day']}",
            f"Restaurant {rid}: {spike['complaints']} hygiene or safety complaints on {digest['day']}, against "
            f"{spike['baseline_daily_rate']:.2f} a day over its last {spike['baseline_days']} digest days "
            f"(p = {spike['p_value']:.2g}).\nExamples:\n{examples}")
        done.add(rid)
        alerted.append(rid)
        platform.store.write_bytes(key, json.dumps(sorted(done)).encode())  # after each: a retry never repeats one
    return alerted


def render_html(digest: Digest) -> str:
    """The digest as a page people read: totals per aspect, then one section per restaurant."""
    e = html.escape
    spiking = {s["restaurant_id"] for s in digest["spikes"]}
    head = "".join(f"<th>{e(a)}</th>" for a in ASPECTS)
    totals = "".join(f"<td>{digest['aspects'][a]}</td>" for a in ASPECTS)
    sections = []
    for rid, entry in digest["restaurants"].items():
        aspects = ", ".join(f"{e(a)} ×{n} (severity ≤ {entry['max_severity'][a]})" for a, n in entry["aspects"].items())
        quotes = "".join(f"<li>{e(x['summary'])} <small>({e(', '.join(x['aspects']) or 'none')})</small></li>"
                         for x in entry["examples"])
        flag = ' <strong class="spike">SPIKE</strong>' if rid in spiking else ""
        sections.append(f"<section><h3>{e(rid)}{flag}</h3><p>{entry['negative']} negative, "
                        f"{entry['attention']} hygiene/safety, {entry['failed']} not analyzed. {aspects}</p>"
                        f"<ul>{quotes}</ul></section>")
    return (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Negative feedback {e(digest['day'])}"
            f"</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto}}td,th{{padding:0 .5em}}"
            f".spike{{color:#b00}}</style><h1>Negative feedback digest, {e(digest['day'])}</h1>"
            f"<p>{digest['analyzed']} analyzed, {digest['failed']} failed, {len(digest['spikes'])} spike(s): "
            f"{e(', '.join(sorted(spiking)) or 'none')}</p><table><tr>{head}</tr><tr>{totals}</tr></table>"
            f"{''.join(sections)}</html>")
