"""A model server speaking the SageMaker inference container contract.

``GET /ping`` answers 200 once the model is loaded; ``POST /invocations`` runs the model's
own serving handlers (``input_fn`` → ``predict_fn`` → ``output_fn``). A request the model
cannot read is the caller's fault and gets a 4xx with the reason (415 for a content type
other than JSON, 406 for an ``Accept`` other than JSON, 400 for a malformed body); a
failure inside the model is a 500 with the reason, as SageMaker reports a ``ModelError``.

One worker process serves one request at a time on the event loop (scikit-learn holds the
GIL anyway), like a SageMaker model server worker; more workers share the listening socket.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from multiprocessing.connection import Connection

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from findining_mlops.serving.server.handlers import FAULT_DRILL_ENV, ServingHandlers, served_handlers

log = logging.getLogger(__name__)
JSON = "application/json"
PARENT_CHECK_S = 0.5
LOAD_ERROR_BYTES = 2048
# what a body the handlers cannot read raises: json.JSONDecodeError is a ValueError
CLIENT_ERRORS = (ValueError, KeyError, TypeError, UnicodeDecodeError)


def build_app(handlers: ServingHandlers, model: object) -> Starlette:
    """The container's HTTP surface around already loaded handlers and model."""

    async def ping(request: Request) -> Response:
        return Response(status_code=200)

    async def invocations(request: Request) -> Response:
        content_type = request.headers.get("content-type", JSON)
        accept = request.headers.get("accept", JSON)
        if "json" not in content_type:
            return _error(415, f"unsupported content type {content_type!r}; send {JSON}")
        if "json" not in accept and "*/*" not in accept:
            return _error(406, f"cannot answer in {accept!r}; accept {JSON}")
        body = await request.body()
        try:
            data = handlers.input_fn(body, content_type)
        except CLIENT_ERRORS as exc:
            return _error(400, f"malformed request: {type(exc).__name__}: {exc}")
        try:
            output = handlers.output_fn(handlers.predict_fn(data, model), JSON)
        except Exception as exc:  # a ModelError: the model's own failure, with its reason
            log.warning("inference failed: %s: %s", type(exc).__name__, exc)
            return _error(500, f"{type(exc).__name__}: {exc}")
        return Response(output, media_type=JSON)

    return Starlette(routes=[Route("/ping", ping, methods=["GET"]),
                             Route("/invocations", invocations, methods=["POST"])])


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def run_worker(sock: socket.socket, inference_module: str, model_dir: str, fault_drill: bool,
               load_errors: Connection) -> None:
    """A worker's life: load the model, then serve ``sock`` until stopped or orphaned.

    The supervisor holds the listening socket, so requests that arrive while a worker is
    being restarted wait in its backlog instead of being refused. A model that fails to load
    is reported on ``load_errors`` (text), so the deploy fails with the model's own reason.
    ``fault_drill`` is passed explicitly because a forked worker's environment is its fork
    server's, not the caller's."""
    import uvicorn

    if fault_drill:
        os.environ[FAULT_DRILL_ENV] = "1"
    else:
        os.environ.pop(FAULT_DRILL_ENV, None)
    try:
        handlers = served_handlers(inference_module, model_dir)
        model = handlers.model_fn(model_dir)
    except Exception as exc:
        load_errors.send_bytes(f"{type(exc).__name__}: {exc}".encode()[:LOAD_ERROR_BYTES])
        raise
    load_errors.close()
    config = uvicorn.Config(build_app(handlers, model), log_level="warning", access_log=False, lifespan="off",
                            timeout_keep_alive=30)
    server = uvicorn.Server(config)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    server.run(sockets=[sock])


def _exit_when_orphaned(parent_pid: int) -> None:
    """A worker never outlives its fork server, which never outlives the supervising process
    (e.g. a killed test run): no strays. Watched as a change of parent, because a sandboxed
    worker may not signal processes of another user."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent_pid:
            os._exit(0)


def invocation_error(status: int, body: bytes) -> str:
    """The message of a server's error answer (its JSON ``message``, else the raw text)."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace")[:500]
