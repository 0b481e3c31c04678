"""A backfill of model_monitoring analyses several days at once and decides them in date
order: the reports are the bytes of a one-day-after-another run, and a decision refuses to
be taken before the previous day's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_model_monitoring_dag import FIRST, live_sentiment, monitoring_dag, run_day  # noqa: F401 (fixtures)

from findining_mlops.monitoring import analysis as monitoring
from findining_mlops.monitoring.analysis import DecisionOutOfOrderError

pytestmark = pytest.mark.slow
DAYS = [FIRST + timedelta(days=k) for k in range(5)]  # slang from the third: a retraining on the fourth


def reports(platform) -> dict[str, bytes]:
    """Every report of the backfill; Evidently's HTML page by name only, as it embeds fresh random ids
    each time it is rendered, in any order."""
    return {key: b"" if key.endswith(".html") else platform.store.read_bytes(key)
            for key in sorted(platform.store.list_keys("reports/sentiment/"))}


def test_days_run_side_by_side_and_only_decisions_wait_for_the_day_before(monitoring_dag):
    assert monitoring_dag.max_active_runs > 1
    assert monitoring_dag.get_task("decide").depends_on_past
    assert not monitoring_dag.get_task("analyze").depends_on_past


def test_analyses_in_any_order_then_decisions_in_date_order_write_the_sequential_bytes(monitoring_dag, live_sentiment,
                                                                                       platform):
    for day in DAYS:
        assert run_day(monitoring_dag, day).state == "success"
    sequential = reports(platform)
    assert sum(key.endswith("decision.json") for key in sequential) == len(DAYS)

    platform.store.delete_prefix("reports/sentiment/")
    analyses = {day: monitoring.analyze_day(platform, live_sentiment, day) for day in reversed(DAYS)}
    with pytest.raises(DecisionOutOfOrderError, match=f"{DAYS[0]}"):
        monitoring.decide(platform, live_sentiment, DAYS[1], analyses[DAYS[1]])
    decisions = [monitoring.decide(platform, live_sentiment, day, analyses[day]) for day in DAYS]

    assert reports(platform) == sequential
    assert [d["retrain"] for d in decisions] == [False, False, False, True, False]
