"""The negative_feedback_digest DAG through ``dag.test`` on the local backend: a planted
hygiene spike at one restaurant, a quiet day, and a re-run."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from feedback_support import WORLD_SEED
from simulation import load_dag, read_alerts

from findining_mlops.data.contracts import FEEDBACK
from findining_mlops.data.synthetic import ScenarioPlan, World, to_parquet_bytes
from findining_mlops.store.layout import feedback_digest_prefix, partition_key

pytestmark = pytest.mark.slow
QUIET_DAY, SPIKE_DAY = date(2026, 10, 12), date(2026, 10, 13)
RESTAURANT = "r0042"


def run(dag, day: date):
    when = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return dag.test(logical_date=when, run_after=when)


def spike_alerts(home) -> list[dict]:
    return [a for a in read_alerts(home) if "spike" in a["Subject"]]


@pytest.fixture
def digest_dag(airflow_db, feedback_home):
    return load_dag("negative_feedback_digest")


def plant_hygiene_spike(platform, day: date, count: int = 6) -> None:
    day_frame = World(WORLD_SEED).feedback(day, 100, ScenarioPlan())
    planted = World(WORLD_SEED).complaints(day, RESTAURANT, "hygiene", count)
    frame = pd.concat([day_frame, planted], ignore_index=True)
    platform.store.write_bytes(partition_key("feedback", day), to_parquet_bytes(frame, FEEDBACK))


def test_a_quiet_day_writes_the_digest_and_alerts_nothing(digest_dag, feedback_platform, feedback_home):
    assert run(digest_dag, QUIET_DAY).state == "success"
    digest = json.loads(feedback_platform.store.read_bytes(feedback_digest_prefix(QUIET_DAY) + "digest.json"))
    assert digest["analyzed"] > 20 and digest["failed"] == 0 and digest["spikes"] == []
    assert sum(digest["aspects"].values()) >= digest["analyzed"]
    assert feedback_platform.store.exists(feedback_digest_prefix(QUIET_DAY) + "digest.html")
    assert spike_alerts(feedback_home) == []


def test_a_hygiene_spike_at_one_restaurant_alerts_once_naming_it_and_a_rerun_adds_nothing(
        digest_dag, feedback_platform, feedback_home):
    assert run(digest_dag, QUIET_DAY).state == "success"  # a day of history before the spike
    plant_hygiene_spike(feedback_platform, SPIKE_DAY)
    assert run(digest_dag, SPIKE_DAY).state == "success"

    alerts = spike_alerts(feedback_home)
    assert len(alerts) == 1
    assert RESTAURANT in alerts[0]["Subject"] and SPIKE_DAY.isoformat() in alerts[0]["Subject"]
    digest = json.loads(feedback_platform.store.read_bytes(feedback_digest_prefix(SPIKE_DAY) + "digest.json"))
    assert [s["restaurant_id"] for s in digest["spikes"]] == [RESTAURANT]
    assert digest["restaurants"][RESTAURANT]["aspects"]["hygiene"] >= 3
    page = feedback_platform.store.read_bytes(feedback_digest_prefix(SPIKE_DAY) + "digest.html").decode()
    assert RESTAURANT in page and "SPIKE" in page

    assert run(digest_dag, SPIKE_DAY).state == "success"
    assert spike_alerts(feedback_home) == alerts
    assert json.loads(feedback_platform.store.read_bytes(feedback_digest_prefix(SPIKE_DAY) + "digest.json")) == digest
