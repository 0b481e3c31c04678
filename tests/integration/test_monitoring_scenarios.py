"""The retrain policy on simulated production histories: quiet while the world is stable,
one retraining soon after each kind of drift begins.

Each test trains a real model, replays the app's daily traffic against its endpoint
(so monitoring reads real data capture) and runs the daily check on every day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from simulation import RECOMMENDATION, SENTIMENT, bootstrap, monitor_days

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import ScenarioPlan, generate

pytestmark = pytest.mark.slow
START = date(2026, 10, 1)
TRAIN_DAYS = 8
FIRST_MONITORED = START + timedelta(days=TRAIN_DAYS)


POLICY = {"max_performance_drop": 0.08, "cooldown_days": 3, "html_sample_size": 0}


@pytest.fixture
def catalog(use_catalog):
    use_catalog(recommendation={**RECOMMENDATION, "monitoring": {**POLICY, "min_rows": 1000}},
                sentiment={**SENTIMENT, "monitoring": {**POLICY, "min_rows": 100}})


def history(platform, trained_jobs, model: str, scenario: ScenarioPlan, monitored_days: int) -> list[dict]:
    generate(platform.store, START, TRAIN_DAYS + monitored_days, seed=21, scenario=scenario,
             requests_per_day=120, reviews_per_day=150)
    spec = get_model(model)
    bootstrap(platform, spec, FIRST_MONITORED - timedelta(days=1), f"bootstrap-{model}", trained=trained_jobs)
    return monitor_days(platform, spec, FIRST_MONITORED, monitored_days)


def retrain_days(decisions: list[dict]) -> list[str]:
    return [d["day"] for d in decisions if d["retrain"]]


@pytest.mark.parametrize("model", ["recommendation", "sentiment"])
def test_thirty_stable_days_trigger_no_retraining(platform, catalog, trained_jobs, model):
    decisions = history(platform, trained_jobs, model, ScenarioPlan(), 30)
    assert len(decisions) == 30
    assert retrain_days(decisions) == [], [d["reason"] for d in decisions if d["retrain"]]
    assert all(d["outcome"] == "checked" for d in decisions)


@pytest.mark.parametrize(
    "model, scenario, expected_rule",
    [
        ("recommendation", "taste-shift", "performance_drop"),
        ("recommendation", "new-district", "dataset_drift"),
        ("sentiment", "slang-shift", "performance_drop"),
    ],
)
def test_drift_triggers_one_retraining_within_two_days(platform, catalog, trained_jobs, model, scenario, expected_rule):
    starts = FIRST_MONITORED + timedelta(days=3)
    decisions = history(platform, trained_jobs, model, ScenarioPlan(scenario, starts), 10)
    retrained = retrain_days(decisions)
    assert len(retrained) == 1, f"expected one retraining for the episode, got {retrained}"
    assert starts <= date.fromisoformat(retrained[0]) <= starts + timedelta(days=1)
    trigger = next(d for d in decisions if d["retrain"])
    assert expected_rule in trigger["reason"]
    # every later day of the episode still sees the problem, and says why it does not retrain
    later = [d for d in decisions if d["day"] > retrained[0]]
    assert all(d["in_episode"] and not d["retrain"] for d in later)
    assert all("episode" in d["suppressed_by"] or "cool-down" in d["suppressed_by"] for d in later)
