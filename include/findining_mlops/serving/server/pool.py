"""Starts, supervises and calls the model servers of the local endpoints.

Each served model (a variant's artifact) gets one listening socket on 127.0.0.1 held by
this process and ``workers`` server processes accepting on it (``serving.server``). A
worker that dies is restarted and counted; requests that arrive meanwhile wait in the
socket's backlog (or go to a sibling worker) instead of being refused. Workers are forked
from a fork server that has already imported the model libraries (``serving.preload``), so
a restart costs the model's load, not Python's start-up. The fork server starts in the
sandbox (``platform.sandbox``: its own user, no network, resource limits, a clean
environment), so every worker does too: a worker serves on the socket this process opened,
and reports a model that fails to load through a pipe, as bytes, never as a pickle. Servers idle for
``FINDINING_SERVER_IDLE_S`` seconds (a variant no longer routed to) stop, and every server
stops when this process exits; a worker whose supervising process vanished exits by itself.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import socket
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from multiprocessing import spawn
from typing import NamedTuple, TypedDict

import urllib3

from findining_mlops.errors import EndpointError
from findining_mlops.platform.sandbox import SERVER_LIMITS, child_environment, launcher_script, sandbox_dir, workspace
from findining_mlops.serving.server.handlers import fault_drill_enabled
from findining_mlops.serving.server.model_server import run_worker

log = logging.getLogger(__name__)
BACKLOG = 2048
READY_TIMEOUT_S = 20.0  # the first worker waits for the fork server, which imports scikit-learn once
STOP_GRACE_S = 3.0
FAST_CRASH_S = 5.0  # a worker that dies sooner than this after its start is restarted with a growing delay
MAX_RESTART_DELAY_S = 5.0
DEFAULT_IDLE_S = 300.0
MAX_LOAD_ERROR_BYTES = 4096
PING_TIMEOUT_S = 0.5


class ServerUnavailable(EndpointError):
    """The model server did not take the request (it died, or is being restarted): nothing
    ran, so the request may be sent again."""


class InvocationTimeout(EndpointError):
    """The model server did not answer within the call's time-out."""


class Reply(NamedTuple):
    """A model server's answer: its status and body."""

    status_code: int
    content: bytes


@dataclass(frozen=True)
class ServerSpec:
    """What a server serves; equal specs share one server."""

    inference_module: str
    model_dir: str
    workers: int = 1
    fault_drill: bool = False

    @classmethod
    def started_here(cls, inference_module: str, model_dir: str, workers: int) -> ServerSpec:
        """The spec of a server this process starts: it serves a rollback drill's faults when this process serves
        one (``handlers.fault_drill``)."""
        return cls(inference_module, model_dir, workers, fault_drill_enabled())


class ServerStatus(TypedDict):
    """A model server as its endpoint's status shows it: where it listens, what it serves, its workers."""

    url: str
    module: str  # the inference module
    model_dir: str
    workers: int
    pids: list[int]  # the live workers'
    restarts: int


class ModelServer:
    """One served model: the listening socket and its supervised worker processes."""

    def __init__(self, spec: ServerSpec, context, on_restart=None):
        if spec.workers < 1:
            raise EndpointError(f"a model server needs at least one worker, got {spec.workers}")
        self.spec = spec
        self._context = context
        self._on_restart = on_restart
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(BACKLOG)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.restarts = 0
        self.last_used = time.monotonic()
        self._stopping = threading.Event()
        self._replacing = threading.Lock()  # a restart and a stop never interleave: no worker is left behind
        self._load_errors: list = [None] * spec.workers  # per worker, the pipe its load failure arrives on
        self._workers = [self._start_worker(i) for i in range(spec.workers)]
        self._started_at = [time.monotonic()] * spec.workers
        self._delay = [0.0] * spec.workers
        self._monitor = threading.Thread(target=self._supervise, name=f"model-server-{self.port}", daemon=True)
        self._monitor.start()

    def pids(self) -> list[int]:
        return [w.pid for w in self._workers if w.is_alive()]

    def status(self) -> ServerStatus:
        return {"url": self.url, "module": self.spec.inference_module, "model_dir": self.spec.model_dir,
                "workers": self.spec.workers, "pids": self.pids(), "restarts": self.restarts}

    def wait_ready(self, client: urllib3.PoolManager, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Returns once ``/ping`` answers 200; the first start waits for the fork server."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                # briefly: a ping waits in the backlog while the worker loads, and a load failure must be seen
                if client.request("GET", f"{self.url}/ping", timeout=PING_TIMEOUT_S).status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            failure = self._load_failure()
            if failure:
                raise EndpointError(f"its model server could not load the model: {failure}")
            if time.monotonic() > deadline:
                raise EndpointError(f"model server {self.url} ({self.spec.inference_module}, {self.spec.model_dir}) "
                                        f"did not answer /ping within {timeout_s:.0f} s")
            if not any(w.is_alive() for w in self._workers) and all(d >= MAX_RESTART_DELAY_S for d in self._delay):
                raise EndpointError(f"model server {self.url} ({self.spec.inference_module}) keeps crashing at "
                                        f"start-up (exit codes {[w.exitcode for w in self._workers]}); see its log")
            time.sleep(0.05)

    def stop(self) -> None:
        with self._replacing:
            self._stopping.set()
        for worker in self._workers:
            if worker.is_alive():
                worker.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join(1.0)
        self.sock.close()

    def _start_worker(self, index: int):
        reader, writer = self._context.Pipe(duplex=False)
        with _sandboxed_launches():
            worker = self._context.Process(
                target=run_worker, name=f"model-server-{self.port}", daemon=True,  # ended at exit too
                args=(self.sock, self.spec.inference_module, self.spec.model_dir, self.spec.fault_drill, writer))
            worker.start()
        writer.close()
        if self._load_errors[index] is not None:
            self._load_errors[index].close()
        self._load_errors[index] = reader
        return worker

    def _load_failure(self) -> str:
        """What a worker reported when its model failed to load, or ''. Read as bytes: a
        sandboxed worker's message is text, never something this process unpickles."""
        for reader in self._load_errors:
            try:
                if reader.poll():
                    return reader.recv_bytes(MAX_LOAD_ERROR_BYTES).decode("utf-8", "replace")
            except (EOFError, OSError):  # the worker exited without a word (a crash): the supervisor restarts it
                continue
        return ""

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            multiprocessing.connection.wait([w.sentinel for w in self._workers], timeout=1.0)
            for i, worker in enumerate(self._workers):
                if worker.is_alive() or self._stopping.is_set():
                    continue
                lived = time.monotonic() - self._started_at[i]
                fast_crash = lived < FAST_CRASH_S
                self._delay[i] = min(MAX_RESTART_DELAY_S, max(0.05, 2 * self._delay[i])) if fast_crash else 0.0
                log.warning("model server %s: worker %d (pid %s) exited with %s after %.1f s; restarting",
                            self.url, i, worker.pid, worker.exitcode, lived)
                if self._stopping.wait(self._delay[i]):
                    return
                with self._replacing:
                    if self._stopping.is_set():
                        return
                    self._replace(i, worker)
                if self._on_restart:
                    self._on_restart(self)

    def _replace(self, i: int, worker) -> None:
        """Worker ``i`` (dead) gives way to a new one."""
        worker.close()
        self._workers[i] = self._start_worker(i)
        self._started_at[i] = time.monotonic()
        self.restarts += 1


class ServerPool:
    """This process's model servers, started on first use and shared by every endpoint."""

    def __init__(self, idle_s: float | None = None):
        self.idle_s = float(os.environ.get("FINDINING_SERVER_IDLE_S", DEFAULT_IDLE_S)) if idle_s is None else idle_s
        self._servers: dict[ServerSpec, ModelServer] = {}
        self._lock = threading.Lock()
        self._starting: dict[ServerSpec, threading.Lock] = {}
        # urllib3 rather than httpx: a connection is taken from a queue per server in O(1), where
        # httpx's pool checked every open connection (a poll each) on every request; at a few
        # hundred requests a second from 32 threads that was most of the router's CPU. Its
        # connections set TCP_NODELAY, so the body is not held back behind the headers' ACK.
        self._http = urllib3.PoolManager(num_pools=64, maxsize=128, block=False, retries=False)
        self._listeners: list = []
        self._reaper = threading.Thread(target=self._reap_idle, name="model-server-reaper", daemon=True)
        self._reaper.start()
        atexit.register(self.stop_all)

    def on_restart(self, callback) -> None:
        """``callback(server)`` (a bound method, held weakly) runs after each worker restart."""
        self._listeners.append(weakref.WeakMethod(callback))

    def server(self, spec: ServerSpec) -> ModelServer:
        """The running server for ``spec``, started (and waited for) on first use."""
        server = self._servers.get(spec)
        if server is not None:
            return server
        with self._lock:
            starting = self._starting.setdefault(spec, threading.Lock())
        with starting:
            server = self._servers.get(spec)
            if server is None:
                server = ModelServer(spec, _context(), self._restarted)
                try:
                    server.wait_ready(self._http)
                except EndpointError:
                    server.stop()
                    raise
                with self._lock:
                    self._servers[spec] = server
            return server

    def invoke(self, spec: ServerSpec, body: bytes, content_type: str, timeout_s: float | None) -> Reply:
        """POSTs ``/invocations``; the answer whatever its status. Raises ServerUnavailable when
        the server took nothing (safe to resend) and InvocationTimeout past ``timeout_s``."""
        server = self.server(spec)
        server.last_used = time.monotonic()
        try:
            reply = self._http.request("POST", f"{server.url}/invocations", body=body, timeout=timeout_s,
                                       headers={"Content-Type": content_type, "Accept": "application/json"})
            return Reply(reply.status, reply.data)
        except urllib3.exceptions.NewConnectionError as exc:  # refused: a ConnectTimeoutError to urllib3
            raise ServerUnavailable(f"ServiceUnavailable: model server {server.url} refused the request "
                                    f"({type(exc).__name__}: {exc})") from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise InvocationTimeout(f"ModelTimeout: model server {server.url} did not answer "
                                    f"within {timeout_s} s") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise ServerUnavailable(f"ServiceUnavailable: model server {server.url} dropped the request "
                                    f"({type(exc).__name__}: {exc})") from exc

    def status(self) -> list[ServerStatus]:
        return [s.status() for s in list(self._servers.values())]

    def find(self, spec: ServerSpec) -> ModelServer | None:
        return self._servers.get(spec)

    def stop_all(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()

    def _restarted(self, server: ModelServer) -> None:
        for ref in list(self._listeners):
            callback = ref()
            if callback is None:
                self._listeners.remove(ref)
            else:
                callback(server)

    def _reap_idle(self) -> None:
        while True:
            time.sleep(min(10.0, max(0.5, self.idle_s / 4)))
            now = time.monotonic()
            with self._lock:
                idle = [spec for spec, s in self._servers.items() if now - s.last_used > self.idle_s]
                stopping = [self._servers.pop(spec) for spec in idle]
            for server in stopping:
                log.info("model server %s idle for %.0f s: stopping", server.url, self.idle_s)
                server.stop()


_CONTEXT = None
_LAUNCHER: str | None = None
_LAUNCH_LOCK = threading.Lock()
_POOL: ServerPool | None = None
_POOL_LOCK = threading.Lock()


def _context():
    """The fork server context, preloading the model libraries once per process."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["findining_mlops.serving.server.preload"])
    return _CONTEXT


@contextlib.contextmanager
def _sandboxed_launches():
    """Within the block, a fork server that (re)starts does so through the sandbox's launcher,
    so it and every worker forked from it run in the sandbox. multiprocessing takes that
    interpreter from a process-wide setting, so it is the launcher only while a model server's
    worker starts, and anything else this process spawns starts as it would without us."""
    global _LAUNCHER
    with _LAUNCH_LOCK:
        if _LAUNCHER is None:
            folder = workspace("model-servers-")  # only this process reads the launcher in it
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            home = sandbox_dir(folder / "home")
            _LAUNCHER = str(launcher_script(folder, sys.executable, child_environment(home), SERVER_LIMITS))
        ours = spawn.get_executable()
        spawn.set_executable(_LAUNCHER)
        # A Celery prefork child (an Airflow task on a Celery worker) is marked daemonic, and
        # multiprocessing refuses children to a daemonic process lest they be orphaned. These
        # workers never are: they exit when their fork server does (``model_server``), which
        # exits with this process. So the mark is lifted while one starts.
        # Celery's own process class also stands in for the authentication key, which then
        # cannot be handed to the fork server: the same key, as multiprocessing's.
        me = multiprocessing.current_process()
        daemonic = me._config.pop("daemon", None)
        me._config["authkey"] = multiprocessing.process.AuthenticationString(bytes(me.authkey))
        try:
            yield
        finally:
            spawn.set_executable(ours)
            if daemonic is not None:
                me._config["daemon"] = daemonic


def shared_pool() -> ServerPool:
    """The process's pool: model servers are per process, like the fork server they come from."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ServerPool()
        return _POOL


def stop_servers() -> None:
    """Stops this process's model servers, if any were started (they start again on use)."""
    if _POOL is not None:
        _POOL.stop_all()
