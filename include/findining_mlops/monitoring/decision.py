"""The retrain policy: whether a monitored day retrains its model, and why.

A pure function of the day's figures (``DayFacts``) and the decisions of the days before it
(``EarlierDecision``), so it is read, and tested, as the rules it applies:

* a rule fires when its figure passes its threshold: the dataset drifts (the share of drifted
  columns reaches ``drift_share``), the primary metric drops more than ``max_performance_drop``
  below the version's own evaluation, or the newest training day is more than
  ``max_data_age_days`` old;
* drift and performance must fire ``consecutive_days`` days in a row before they count (at a 5 %
  test level a single day's alarm is expected about once a month on a stable stream); the age
  does not fluctuate, so it counts at once;
* one episode (consecutive days on which any rule fires) retrains at most once, and no
  retraining follows another within ``cooldown_days``;
* a day that was not checked, or saw fewer than ``min_rows`` rows, decides nothing.

Every decision carries every rule with its figure and threshold, and the reason it retrains or
what held it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import TypedDict

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.errors import ConfigurationError

# what a day's check found (decision.json's "outcome")
CHECKED = "checked"
NO_TRAFFIC = "no_traffic"
NO_GROUND_TRUTH = "ground_truth_missing"
# the captured features no longer match a serving version's reference profile (a column
# missing, or numbers turned text): a fault of the data feed, alerted, never judged as drift
DATA_QUALITY = "data_quality"
JUDGED = (CHECKED, NO_GROUND_TRUTH)  # checks whose figures the rules may judge

DATASET_DRIFT, PERFORMANCE_DROP, DATA_AGE = "dataset_drift", "performance_drop", "data_age_days"


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


@dataclass(frozen=True)
class DayFacts:
    """What the day's analysis found, for the live version (the one that served most of the day).

    Figures keep the number types they were measured in (an ``int`` threshold stays an ``int``),
    so the decision written reads them as measured."""

    model: str
    day: date
    check: str  # CHECKED, NO_TRAFFIC, NO_GROUND_TRUTH or DATA_QUALITY
    rows: int = 0
    message: str | None = None  # why a day that was not checked was not
    live_version: int | None = None
    dataset_drift: bool = False
    drift_share: float = 0.0
    drifted_columns: tuple[str, ...] = ()
    primary_metric: str = ""
    performance: float | None = None
    performance_drop: float | None = None  # None without ground truth, or without the version's evaluation
    trained_until: date | None = None  # the live version's newest training day
    data_quality: tuple[str, ...] = ()


@dataclass(frozen=True)
class EarlierDecision:
    """What the policy reads of an earlier day's decision: streaks, episode and whether it retrained."""

    day: date
    retrain: bool = False
    in_episode: bool = False
    episode_start: date | None = None
    episode_retrained: bool = False
    streaks: dict[str, int] = field(default_factory=dict)  # rule -> days in a row it had fired


@dataclass(frozen=True)
class Rule:
    """One rule's judgement of the day: its figure against its threshold, and for how many days in
    a row it has fired; ``confirmed`` once it has fired long enough to count."""

    name: str
    value: float
    threshold: float
    fired: bool
    detail: str
    streak: int = 0
    confirmed: bool = False

    def describe(self) -> str:
        return (f"{self.name}={self.value} (threshold {self.threshold}, {self.streak} day(s) in a row; "
                f"{self.detail})")


class RuleDocument(TypedDict):
    rule: str
    value: float
    threshold: float
    fired: bool
    detail: str
    streak: int
    confirmed: bool


class DecisionDocument(TypedDict):
    """``decision.json``, as the DAG hands it on and the next day's decision reads it back."""

    model: str
    day: str
    outcome: str  # the day's check (``Decision.check``)
    live_version: int | None
    retrain: bool
    reason: str
    suppressed_by: str | None
    data_quality: list[str]
    rules: list[RuleDocument]
    in_episode: bool
    episode_start: str | None
    episode_retrained: bool


@dataclass(frozen=True)
class Decision:
    model: str
    day: date
    check: str
    live_version: int | None
    retrain: bool
    reason: str
    suppressed_by: str | None  # what held a fired rule (or the whole day) back from retraining
    data_quality: tuple[str, ...]
    rules: tuple[Rule, ...]
    in_episode: bool
    episode_start: date | None
    episode_retrained: bool

    def to_document(self) -> DecisionDocument:
        return {
            "model": self.model, "day": self.day.isoformat(), "outcome": self.check,
            "live_version": self.live_version, "retrain": self.retrain, "reason": self.reason,
            "suppressed_by": self.suppressed_by, "data_quality": list(self.data_quality),
            "rules": [{"rule": r.name, "value": r.value, "threshold": r.threshold, "fired": r.fired,
                       "detail": r.detail, "streak": r.streak, "confirmed": r.confirmed} for r in self.rules],
            "in_episode": self.in_episode,
            "episode_start": self.episode_start.isoformat() if self.episode_start else None,
            "episode_retrained": self.episode_retrained,
        }


def retrain_decision(facts: DayFacts, earlier: Sequence[EarlierDecision], policy: MonitoringPolicy) -> Decision:
    """The day's decision. ``earlier``: the decisions of the days before it that were made (the
    ``cooldown_days`` days before it are enough; the day before carries the streaks and the episode)."""
    previous = next((d for d in earlier if d.day == facts.day - timedelta(days=1)), None)
    rules = tuple(_with_streak(rule, previous, policy) for rule in _judged_rules(facts, policy))
    confirmed = [r for r in rules if r.confirmed]
    in_episode = any(r.fired for r in rules)
    episode_start, retrained_before = _episode(facts.day, in_episode, previous)
    suppressed = _suppressed_by(facts, policy, rules, retrained_before, episode_start,
                                _last_retraining(facts.day, earlier, policy))
    retrain = bool(confirmed) and suppressed is None
    return Decision(
        model=facts.model, day=facts.day, check=facts.check, live_version=facts.live_version, retrain=retrain,
        reason="; ".join(r.describe() for r in confirmed) or "no rule fired", suppressed_by=suppressed,
        data_quality=facts.data_quality, rules=rules, in_episode=in_episode, episode_start=episode_start,
        episode_retrained=in_episode and (retrained_before or retrain),
    )


def _episode(day: date, in_episode: bool, previous: EarlierDecision | None) -> tuple[date | None, bool]:
    """The first day of the episode the day belongs to (None outside one), and whether the episode
    has retrained before this day."""
    if not in_episode:
        return None, False
    if previous is not None and previous.in_episode:
        return previous.episode_start, previous.episode_retrained
    return day, False


def _last_retraining(day: date, earlier: Sequence[EarlierDecision], policy: MonitoringPolicy) -> date | None:
    """The latest day within the cool-down before ``day`` that retrained, if any."""
    since = day - timedelta(days=policy.cooldown_days)
    return max((d.day for d in earlier if d.retrain and since <= d.day < day), default=None)


def _judged_rules(facts: DayFacts, policy: MonitoringPolicy) -> list[Rule]:
    """The rules the day's figures allow: drift and performance only on a judged day, performance
    only with a drop to judge, age only when the live version's training days are known."""
    rules = []
    if facts.check in JUDGED:
        rules.append(Rule(DATASET_DRIFT, facts.drift_share, policy.drift_share, bool(facts.dataset_drift),
                          f"drifted columns: {', '.join(facts.drifted_columns) or 'none'}"))
        drop = facts.performance_drop
        if drop is not None:
            rules.append(Rule(PERFORMANCE_DROP, round(drop, 6), policy.max_performance_drop,
                              bool(drop > policy.max_performance_drop),
                              f"{facts.primary_metric} {facts.performance:.4f} vs its evaluation"))
    if facts.trained_until is not None:
        age = (facts.day - facts.trained_until).days
        rules.append(Rule(DATA_AGE, age, policy.max_data_age_days, age > policy.max_data_age_days,
                          f"trained on data up to {facts.trained_until}"))
    return rules


def _with_streak(rule: Rule, previous: EarlierDecision | None, policy: MonitoringPolicy) -> Rule:
    streak = (previous.streaks.get(rule.name, 0) if previous else 0) + 1 if rule.fired else 0
    persistent = rule.name == DATA_AGE  # age does not fluctuate; no need to wait
    confirmed = rule.fired and (persistent or streak >= policy.consecutive_days)
    return Rule(rule.name, rule.value, rule.threshold, rule.fired, rule.detail, streak, confirmed)


def _suppressed_by(facts: DayFacts, policy: MonitoringPolicy, rules: Sequence[Rule], retrained_before: bool,
                   episode_start: date | None, last_retraining: date | None) -> str | None:
    """What keeps the day from retraining, in order of precedence; None when nothing does."""
    confirmed = any(r.confirmed for r in rules)
    if facts.check not in JUDGED:
        return facts.message if facts.message is not None else facts.check
    if facts.rows < policy.min_rows:
        return f"only {facts.rows} captured rows (< min_rows {policy.min_rows})"
    if confirmed and retrained_before:
        return f"retraining already triggered for the episode that began on {episode_start}"
    if confirmed and last_retraining is not None:
        return f"cool-down: retraining triggered on {last_retraining} (< {policy.cooldown_days} days ago)"
    if not confirmed and any(r.fired for r in rules):
        return "awaiting confirmation: " + ", ".join(
            f"{r.name} fired {r.streak} of {policy.consecutive_days} days" for r in rules if r.fired)
    return None
