"""What keeps `make demo` short: Airflow's task processes one thread each, the monitoring backfill
several days at once, two-step canaries that are looked at often enough for a short bake, and an
A/B day that is a run of that day rather than a backfill (which the scheduler closes every 30 s)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from devtools import airflow_client, demo, local_airflow


class RecordingClient(airflow_client.AirflowClient):
    """The REST API as a script of answers; every request is recorded."""

    def __init__(self, answers: dict[tuple[str, str], list[dict]]):
        super().__init__("http://127.0.0.1:1")
        self.answers = answers
        self.requests: list[tuple[str, str, dict | None]] = []

    def _request(self, method, path, body=None, authenticated=True):
        self.requests.append((method, path, body))
        script = self.answers[(method, path.split("?")[0])]
        return script.pop(0) if len(script) > 1 else script[0]


def test_airflow_runs_single_threaded_tasks_and_two_step_canaries(monkeypatch, tmp_path):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("FINDINING_DEPLOYMENT_DEFAULTS", raising=False)
    env = local_airflow.airflow_env(Path(tmp_path), 8080)
    assert env["OMP_NUM_THREADS"] == "1"
    assert json.loads(env["FINDINING_DEPLOYMENT_DEFAULTS"])["ramp"] == [20, 100]


def test_the_bake_sensor_looks_several_times_per_bake_window_and_at_most_every_poke_interval():
    from findining_airflow.sensors.canary import LOOKS_PER_BAKE, look_interval_s

    assert look_interval_s(bake_minutes=10, longest_s=20) == 20  # production: every 20 s
    assert look_interval_s(bake_minutes=demo.DEMO_BAKE_MINUTES, longest_s=20) == \
        demo.DEMO_BAKE_MINUTES * 60 / LOOKS_PER_BAKE
    assert look_interval_s(bake_minutes=0, longest_s=20) == 1  # no bake (an A/B winner): once a second
    assert look_interval_s(bake_minutes=0.5, longest_s=0.2) == 0.2  # a shorter poke_interval wins


def test_looks_seconds_apart_stay_in_one_process_and_a_pending_endpoint_gives_its_slot_back():
    """A look rescheduled seconds after the last can overtake that look's process exit, which the
    scheduler takes for a task killed externally (apache/airflow#71172)."""
    from findining_airflow.sensors.canary import SHORTEST_RESCHEDULE_S, next_look

    assert next_look(pending=False, bake_minutes=10, longest_s=20) == ("reschedule", 20)  # production
    assert next_look(pending=False, bake_minutes=demo.DEMO_BAKE_MINUTES, longest_s=20)[0] == "poke"
    assert next_look(pending=False, bake_minutes=0, longest_s=20) == ("poke", 1)
    assert next_look(pending=False, bake_minutes=1, longest_s=20) == ("reschedule", SHORTEST_RESCHEDULE_S)
    # SageMaker updates an endpoint for minutes: no slot held, whatever the bake
    assert next_look(pending=True, bake_minutes=0, longest_s=20) == ("reschedule", 20)


def test_the_monitoring_backfill_asks_for_several_days_at_once():
    client = RecordingClient({("POST", "/api/v2/backfills"): [{"id": 1}]})
    client.backfill("model_monitoring", date(2026, 10, 15), date(2026, 10, 24), demo.BACKFILL_PARALLEL_DAYS)
    [(_, _, body)] = client.requests
    assert body["max_active_runs"] == demo.BACKFILL_PARALLEL_DAYS > 1


def test_an_ab_day_is_a_run_of_that_day_with_the_days_data_interval():
    """As a backfill's run of the day, without waiting for the scheduler to close a backfill."""
    client = RecordingClient({("POST", "/api/v2/dags/ab_test_analysis/dagRuns"): [{"dag_run_id": "manual__d"}]})
    assert client.trigger_day("ab_test_analysis", date(2026, 10, 31)) == "manual__d"
    [(_, _, body)] = client.requests
    assert body == {"logical_date": "2026-10-31T00:00:00Z", "data_interval_start": "2026-10-31T00:00:00Z",
                    "data_interval_end": "2026-11-01T00:00:00Z", "conf": {}}
