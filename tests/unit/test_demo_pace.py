"""What keeps `make demo` short: Airflow's task processes one thread each, the monitoring backfill
several days at once, two-step canaries, and an A/B day that waits for its backfill to close
(the API refuses a DAG's next backfill before that) rather than for a fixed time."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from findining_mlops.tools import airflow_client, demo


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
    env = demo.airflow_env(Path(tmp_path), 8080)
    assert env["OMP_NUM_THREADS"] == "1"
    assert json.loads(env["FINDINING_DEPLOYMENT_DEFAULTS"])["ramp"] == [20, 100]


def test_the_monitoring_backfill_asks_for_several_days_at_once():
    client = RecordingClient({("POST", "/api/v2/backfills"): [{"id": 1}]})
    client.backfill("model_monitoring", date(2026, 10, 15), date(2026, 10, 24), demo.BACKFILL_PARALLEL_DAYS)
    [(_, _, body)] = client.requests
    assert body["max_active_runs"] == demo.BACKFILL_PARALLEL_DAYS > 1


def test_an_ab_day_is_done_only_once_its_backfill_is_closed(monkeypatch):
    monkeypatch.setattr(demo, "POLL_S", 0)
    finished = {"dag_runs": [{"run_type": "backfill", "data_interval_start": "2026-10-25T00:00:00Z",
                              "state": "success"}]}
    client = RecordingClient({
        ("GET", "/api/v2/dags/ab_test_analysis/dagRuns"): [finished],
        ("GET", "/api/v2/backfills/7"): [{"completed_at": None}, {"completed_at": None},
                                         {"completed_at": "2026-12-02T09:00:00Z"}],
    })
    assert airflow_client.wait_for_backfill_day(client, "ab_test_analysis", date(2026, 10, 25), 7) == "success"
    assert [path for _, path, _ in client.requests].count("/api/v2/backfills/7") == 3
