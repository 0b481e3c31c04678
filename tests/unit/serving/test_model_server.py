"""A model server speaks the SageMaker inference container contract, and its supervisor
brings a killed worker back."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from findining_mlops.platform.sandbox import unpack, workspace
from findining_mlops.serving.server.pool import ServerPool, ServerSpec

SENTIMENT = "findining_mlops.models.sentiment.inference"
DEADLINE_S = 60  # polling bound only: a healthy run takes far less


@pytest.fixture
def model_dir(sentiment_archive):
    """Unpacked where model servers read models: under the sandbox root."""
    return unpack(sentiment_archive, workspace("test-model-") / "model")


@pytest.fixture
def pool():
    pool = ServerPool(idle_s=3600)
    yield pool
    pool.stop_all()


def _post(url: str, body: bytes, content_type: str = "application/json", accept: str = "application/json"):
    return httpx.post(f"{url}/invocations", content=body, headers={"Content-Type": content_type, "Accept": accept})


def _wait_until(condition, what: str):
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S} s: {what}")
        time.sleep(0.05)


def test_ping_answers_200_once_the_model_is_loaded(pool, model_dir):
    server = pool.server(ServerSpec(SENTIMENT, str(model_dir)))
    assert httpx.get(f"{server.url}/ping").status_code == 200
    assert server.url.startswith("http://127.0.0.1:")


def test_invocations_answer_json_with_the_models_prediction(pool, model_dir):
    server = pool.server(ServerSpec(SENTIMENT, str(model_dir)))
    answer = _post(server.url, '{"text": "好好食，服務一流"}'.encode())
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["label"] in {"positive", "neutral", "negative"}
    batch = _post(server.url, b'{"instances": [{"text": "great"}, {"text": "awful"}]}').json()
    assert len(batch["predictions"]) == 2


@pytest.mark.parametrize("body, content_type, accept, status, message", [
    (b"{not json", "application/json", "application/json", 400, "JSONDecodeError"),
    (b'{"review": "no text"}', "application/json", "application/json", 400, "needs 'text'"),
    (b"text,label", "text/csv", "application/json", 415, "unsupported content type 'text/csv'"),
    (b'{"text": "ok"}', "application/json", "text/csv", 406, "cannot answer in 'text/csv'"),
], ids=["malformed-json", "missing-field", "csv-body", "csv-accept"])
def test_a_request_the_model_cannot_read_gets_a_4xx_with_the_reason(pool, model_dir, body, content_type, accept,
                                                                      status, message):
    server = pool.server(ServerSpec(SENTIMENT, str(model_dir)))
    answer = _post(server.url, body, content_type, accept)
    assert answer.status_code == status
    assert message in answer.json()["message"]


def test_a_failing_model_answers_500_with_its_error(pool, failing_sentiment_archive):
    failing = unpack(failing_sentiment_archive, workspace("test-failing-") / "model")
    server = pool.server(ServerSpec(SENTIMENT, str(failing), fault_drill=True))
    answer = _post(server.url, b'{"text": "fine"}')
    assert answer.status_code == 500
    assert "fault injection" in answer.json()["message"]


def test_a_killed_worker_is_restarted_and_counted_and_the_server_keeps_answering(pool, model_dir):
    server = pool.server(ServerSpec(SENTIMENT, str(model_dir)))
    [pid] = server.pids()
    os.kill(pid, signal.SIGKILL)
    # the socket stays open in the supervisor: this request waits for the new worker
    assert _post(server.url, b'{"text": "still there?"}').status_code == 200
    _wait_until(lambda: server.restarts == 1, "the restart is counted")
    assert server.pids() and server.pids() != [pid]


def test_workers_share_the_socket_so_one_killed_worker_does_not_stop_the_server(pool, model_dir):
    server = pool.server(ServerSpec(SENTIMENT, str(model_dir), workers=2))
    _wait_until(lambda: len(server.pids()) == 2, "two workers run")
    first = server.pids()[0]
    os.kill(first, signal.SIGKILL)
    assert all(_post(server.url, b'{"text": "ok"}').status_code == 200 for _ in range(5))
    _wait_until(lambda: server.restarts == 1 and len(server.pids()) == 2, "the killed worker is replaced")


def test_stopping_the_pool_leaves_no_worker_behind(pool, model_dir):
    server = pool.server(ServerSpec(SENTIMENT, str(model_dir), workers=2))
    _wait_until(lambda: len(server.pids()) == 2, "two workers run")
    pids = server.pids()
    pool.stop_all()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
