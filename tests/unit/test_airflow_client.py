"""The REST client the demo and the UI tests use: a busy Airflow database is asked again."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devtools import airflow_client
from devtools.airflow_client import AirflowClient


def serve(answers: list[int]):
    """A server that answers POSTs with the given statuses in turn; returns it and its bodies."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            status = answers.pop(0)
            payload = {503: b'{"detail": "database is locked"}', 500: b'{"detail": {"reason": "Database error"}}',
                       200: b'{"id": 7}'}.get(status, b'{"detail": "no"}')
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(airflow_client, "BUSY_PAUSE_S", 0.0)


def test_a_busy_airflow_is_asked_again_and_the_request_goes_through():
    server, received = serve([503, 500, 200])
    client = AirflowClient(f"http://127.0.0.1:{server.server_address[1]}")
    assert client._request("POST", "/api/v2/backfills", {"dag_id": "d"}, authenticated=False) == {"id": 7}
    assert received == [{"dag_id": "d"}] * 3
    server.shutdown()


def test_an_airflow_busy_for_too_long_or_another_error_is_raised():
    server, _ = serve([503] * (airflow_client.BUSY_RETRIES + 1) + [400])
    client = AirflowClient(f"http://127.0.0.1:{server.server_address[1]}")
    with pytest.raises(airflow_client.urllib.error.HTTPError, match="503"):
        client._request("POST", "/x", {}, authenticated=False)
    with pytest.raises(airflow_client.urllib.error.HTTPError, match="400"):
        client._request("POST", "/x", {}, authenticated=False)
    server.shutdown()


def test_a_wait_stops_with_the_watchdogs_error_instead_of_waiting_out_its_timeout(monkeypatch):
    """The demo's watchdog raises once an Airflow component has exited: a run would never finish."""
    polls = []

    class SchedulerGone(RuntimeError):
        pass

    def watchdog():
        polls.append(1)
        if len(polls) == 2:
            raise SchedulerGone("Airflow's scheduler (exit code 1) exited")

    monkeypatch.setattr(airflow_client, "POLL_S", 0.0)
    client = AirflowClient("http://127.0.0.1:9", watchdog=watchdog)
    monkeypatch.setattr(client, "run_state", lambda dag_id, run_id: "running")
    with pytest.raises(SchedulerGone, match="scheduler"):
        client.wait("model_retraining", ["manual__1"], timeout=3600)
    assert len(polls) == 2


def test_the_demos_airflow_waits_for_sqlites_lock_instead_of_failing_after_five_seconds():
    from devtools.local_airflow import airflow_env
    from findining_airflow import metadata_db

    env = airflow_env(Path("/project"), 8080)
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC"):
        module, _, name = env[key].rpartition(".")
        assert module == metadata_db.__name__
        assert getattr(metadata_db, name)["timeout"] >= 30
