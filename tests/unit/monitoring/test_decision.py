"""The retrain policy, rule by rule: what retrains a model, what holds a retraining back, and
what every decision says about why."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from findining_mlops.monitoring.decision import (
    CHECKED,
    DATA_QUALITY,
    NO_GROUND_TRUTH,
    NO_TRAFFIC,
    DayFacts,
    EarlierDecision,
    MonitoringPolicy,
    retrain_decision,
)

POLICY = MonitoringPolicy(drift_share=0.5, max_performance_drop=0.05, max_data_age_days=60, cooldown_days=3,
                          consecutive_days=2, min_rows=100)
DAY = date(2026, 10, 13)
YESTERDAY = DAY - timedelta(days=1)
QUIET = DayFacts(model="sentiment", day=DAY, check=CHECKED, rows=500, live_version=2, dataset_drift=False,
                 drift_share=0.1, drifted_columns=("latin_share",), primary_metric="macro_f1", performance=0.86,
                 performance_drop=0.01, trained_until=DAY - timedelta(days=10))
DRIFTED = replace(QUIET, dataset_drift=True, drift_share=0.6, drifted_columns=("latin_share", "length", "prediction"))
DROPPED = replace(QUIET, performance=0.78, performance_drop=0.09)
OLD = replace(QUIET, trained_until=DAY - timedelta(days=61))


def fired_yesterday(*rules: str, **changes) -> EarlierDecision:
    """The day before's decision, on which ``rules`` fired for the first time."""
    return EarlierDecision(day=YESTERDAY, in_episode=bool(rules), episode_start=YESTERDAY if rules else None,
                           streaks=dict.fromkeys(rules, 1), **changes)


def rule(decision, name):
    return next(r for r in decision.rules if r.name == name)


def test_a_quiet_day_does_not_retrain_and_lists_every_rule_it_checked():
    decision = retrain_decision(QUIET, [], POLICY)
    assert not decision.retrain
    assert decision.reason == "no rule fired" and decision.suppressed_by is None
    assert [r.name for r in decision.rules] == ["dataset_drift", "performance_drop", "data_age_days"]
    assert not any(r.fired for r in decision.rules)
    assert not decision.in_episode and decision.episode_start is None


def test_a_drift_share_over_the_threshold_fires_but_waits_for_a_second_day():
    decision = retrain_decision(DRIFTED, [], POLICY)
    drift = rule(decision, "dataset_drift")
    assert (drift.value, drift.threshold, drift.fired, drift.streak, drift.confirmed) == (0.6, 0.5, True, 1, False)
    assert drift.detail == "drifted columns: latin_share, length, prediction"
    assert not decision.retrain
    assert decision.suppressed_by == "awaiting confirmation: dataset_drift fired 1 of 2 days"
    assert decision.in_episode and decision.episode_start == DAY


def test_drift_on_the_second_day_in_a_row_retrains_with_its_figure_as_the_reason():
    decision = retrain_decision(DRIFTED, [fired_yesterday("dataset_drift")], POLICY)
    assert decision.retrain and decision.suppressed_by is None
    assert decision.reason == ("dataset_drift=0.6 (threshold 0.5, 2 day(s) in a row; "
                               "drifted columns: latin_share, length, prediction)")
    assert decision.episode_start == YESTERDAY and decision.episode_retrained


def test_a_performance_drop_beyond_the_limit_retrains_once_confirmed():
    first = retrain_decision(DROPPED, [], POLICY)
    second = retrain_decision(DROPPED, [fired_yesterday("performance_drop")], POLICY)
    drop = rule(second, "performance_drop")
    assert (drop.value, drop.threshold, drop.detail) == (0.09, 0.05, "macro_f1 0.7800 vs its evaluation")
    assert not first.retrain and second.retrain
    assert second.reason.startswith("performance_drop=0.09 (threshold 0.05, 2 day(s) in a row")


def test_a_day_without_ground_truth_judges_drift_but_not_performance():
    decision = retrain_decision(replace(DROPPED, check=NO_GROUND_TRUTH, performance=None, performance_drop=None),
                                [], POLICY)
    assert [r.name for r in decision.rules] == ["dataset_drift", "data_age_days"]


def test_a_model_trained_on_old_data_retrains_at_once():
    decision = retrain_decision(OLD, [], POLICY)
    age = rule(decision, "data_age_days")
    assert (age.value, age.threshold, age.streak, age.confirmed) == (61, 60, 1, True)
    assert decision.retrain
    assert decision.reason == (f"data_age_days=61 (threshold 60, 1 day(s) in a row; "
                               f"trained on data up to {DAY - timedelta(days=61)})")


def test_every_confirmed_rule_is_listed_in_the_reason():
    facts = replace(DRIFTED, performance=0.78, performance_drop=0.09, trained_until=DAY - timedelta(days=61))
    decision = retrain_decision(facts, [fired_yesterday("dataset_drift", "performance_drop")], POLICY)
    assert decision.retrain
    assert decision.reason.startswith("dataset_drift=0.6 (")
    assert "); performance_drop=0.09 (" in decision.reason and "); data_age_days=61 (" in decision.reason


def test_a_retraining_within_the_cooldown_holds_the_next_one_back():
    two_days_ago = EarlierDecision(day=DAY - timedelta(days=2), retrain=True)
    decision = retrain_decision(OLD, [fired_yesterday(), two_days_ago], POLICY)
    assert not decision.retrain
    assert decision.suppressed_by == f"cool-down: retraining triggered on {DAY - timedelta(days=2)} (< 3 days ago)"
    assert decision.reason.startswith("data_age_days=61")  # what would have retrained it, all the same


def test_a_retraining_before_the_cooldown_does_not_hold_one_back():
    long_ago = EarlierDecision(day=DAY - timedelta(days=4), retrain=True)
    assert retrain_decision(OLD, [long_ago], POLICY).retrain


def test_an_episode_that_retrained_already_does_not_retrain_again():
    retrained = fired_yesterday("dataset_drift", retrain=True, episode_retrained=True)
    decision = retrain_decision(DRIFTED, [retrained], POLICY)
    assert not decision.retrain
    assert decision.suppressed_by == f"retraining already triggered for the episode that began on {YESTERDAY}"
    assert decision.episode_retrained and rule(decision, "dataset_drift").streak == 2


def test_a_quiet_day_ends_the_episode_and_its_streaks():
    decision = retrain_decision(QUIET, [fired_yesterday("dataset_drift", episode_retrained=True)], POLICY)
    assert not decision.in_episode and not decision.episode_retrained
    assert rule(decision, "dataset_drift").streak == 0


def test_too_few_rows_decide_nothing():
    decision = retrain_decision(replace(OLD, rows=99), [], POLICY)
    assert not decision.retrain
    assert decision.suppressed_by == "only 99 captured rows (< min_rows 100)"


@pytest.mark.parametrize("check, message", [(NO_TRAFFIC, "no captured inferences"),
                                              (DATA_QUALITY, "column 'prediction' holds text")])
def test_a_day_that_was_not_checked_decides_nothing_and_says_why(check, message):
    decision = retrain_decision(replace(OLD, check=check, message=message, data_quality=(message,)), [], POLICY)
    assert not decision.retrain and decision.suppressed_by == message
    assert [r.name for r in decision.rules] == ["data_age_days"]  # the only rule that needs no capture
    assert decision.data_quality == (message,)


def test_the_document_names_each_rule_and_the_days_in_iso_form():
    document = retrain_decision(DRIFTED, [fired_yesterday("dataset_drift")], POLICY).to_document()
    assert (document["day"], document["episode_start"]) == (DAY.isoformat(), YESTERDAY.isoformat())
    assert document["rules"][0] == {"rule": "dataset_drift", "value": 0.6, "threshold": 0.5, "fired": True,
                                    "detail": "drifted columns: latin_share, length, prediction", "streak": 2,
                                    "confirmed": True}
