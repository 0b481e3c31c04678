"""Airflow's REST API (v2) as a person's script uses it: the demo, the browser and cluster
tests drive a real Airflow through it, and wait on its DAG runs and backfills."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta

log = logging.getLogger(__name__)
POLL_S = 1.0  # how often to ask the API whether runs have finished
# A busy metadata database (SQLite's "database is locked") fails the request's transaction: the API
# server answers 503, or 500 with the reason "Database error". Nothing was written, so the request
# is sent again after a pause.
BUSY_RETRIES = 5
BUSY_PAUSE_S = 1.0


class AirflowClient:
    """The REST API (v2), used the way a person's script would use it."""

    def __init__(self, base_url: str, watchdog: Callable[[], None] | None = None):
        """``watchdog`` is called on every poll of a wait and raises when waiting is pointless
        (say, the scheduler has exited)."""
        self.base_url = base_url.rstrip("/")
        self.watchdog = watchdog
        self._token: str | None = None

    def _request(self, method: str, path: str, body: dict | None = None, authenticated: bool = True) -> dict:
        headers = {"Content-Type": "application/json"}
        if authenticated:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        attempt = 0
        while True:
            request = urllib.request.Request(self.base_url + path, method=method, headers=headers, data=data)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")
                busy = exc.code == 503 or (exc.code == 500 and "Database error" in detail)
                if not busy or attempt == BUSY_RETRIES:
                    raise
                log.warning("%s %s: Airflow's database is busy (%s: %s); trying again", method, path, exc.code,
                            detail[:200])
                time.sleep(BUSY_PAUSE_S * 2 ** attempt)
                attempt += 1

    def token(self) -> str:
        if self._token is None:
            self._token = self._request("GET", "/auth/token", authenticated=False)["access_token"]
        return self._token

    def healthy(self) -> bool:
        try:
            # open to all, so it also answers on a UI that asks people to log in
            health = self._request("GET", "/api/v2/monitor/health", authenticated=False)
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return False
        return all(health.get(c, {}).get("status") == "healthy" for c in ("metadatabase", "scheduler", "dag_processor"))

    def dag_ready(self, dag_id: str) -> bool:
        try:
            return self._request("GET", f"/api/v2/dags/{dag_id}").get("dag_id") == dag_id
        except urllib.error.HTTPError:
            return False

    def backfill(self, dag_id: str, first: date, last: date, max_active_runs: int = 1) -> dict:
        return self._request("POST", "/api/v2/backfills", {
            "dag_id": dag_id, "from_date": f"{first}T00:00:00Z", "to_date": f"{last}T00:00:00Z",
            "max_active_runs": max_active_runs, "reprocess_behavior": "completed",
        })

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def runs(self, dag_id: str) -> list[dict]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def trigger(self, dag_id: str, conf: dict) -> str:
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def trigger_day(self, dag_id: str, day: date) -> str:
        """A run of one day of a daily DAG, as the UI's trigger form with a logical date: the same
        data interval as the day's scheduled or backfilled run. Unlike a backfill, nothing waits
        for the scheduler to close it (which it does every 30 s) before the next day's run."""
        start, end = f"{day}T00:00:00Z", f"{day + timedelta(days=1)}T00:00:00Z"
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {
            "logical_date": start, "data_interval_start": start, "data_interval_end": end, "conf": {}})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}")["state"]

    def between_polls(self) -> None:
        """One poll interval, after the watchdog's check."""
        if self.watchdog is not None:
            self.watchdog()
        time.sleep(POLL_S)

    def wait(self, dag_id: str, run_ids: list[str], timeout: float = 1800) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {run_id: self.run_state(dag_id, run_id) for run_id in run_ids}
            if all(s in ("success", "failed") for s in states.values()):
                return states
            self.between_polls()
        raise TimeoutError(f"{dag_id} runs still {states} after {timeout:.0f} s")


def wait_for_dags(client: AirflowClient, dag_ids: list[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not all(client.dag_ready(d) for d in dag_ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"DAGs {dag_ids} were not parsed within {timeout:.0f} s")
        client.between_polls()


def wait_for_runs(client: AirflowClient, dag_id: str, expected: int, timeout: float = 3600) -> None:
    """Waits until ``expected`` runs of the DAG exist and all of them are finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.runs(dag_id)
        finished = [r for r in runs if r["state"] in ("success", "failed")]
        if len(runs) >= expected and len(finished) == len(runs):
            failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
            if failed:
                print(f"warning: {dag_id} runs failed: {failed}")
            return
        client.between_polls()
    raise TimeoutError(f"{dag_id}: runs did not finish within {timeout:.0f} s")
