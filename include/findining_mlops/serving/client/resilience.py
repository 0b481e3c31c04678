"""How the app client survives an endpoint that is slow, failing or gone: retries with
jitter for idempotent calls, and a circuit breaker per endpoint so that a dead endpoint
costs one quick refusal instead of a time-out per request.

Both endpoint adapters name the cause first in an EndpointError (``ValidationError: ...``,
``ModelError: ...``, ``ServiceUnavailable: ...``) and word a request the model refused as
SageMaker does (``Received client error (4xx)``): that is the caller's fault and is
neither retried nor held against the endpoint."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from findining_mlops.errors import EndpointError

T = TypeVar("T")
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
CALLER_ERRORS = ("ValidationError",)
CLIENT_ERROR = re.compile(r"client error \(4\d\d\)")


class CircuitOpen(EndpointError):
    """The endpoint's breaker is open: the call was not attempted."""


def is_caller_error(exc: EndpointError) -> bool:
    """True when the request itself was refused (retrying cannot help, the endpoint is fine)."""
    text = str(exc)
    return text.split(":", 1)[0].strip() in CALLER_ERRORS or CLIENT_ERROR.search(text) is not None


class CircuitBreaker:
    """Opens after ``failure_threshold`` failures in a row; refuses calls for ``reset_s``;
    then lets one trial call through (half open): its success closes the breaker, its
    failure opens it again. ``clock`` is injectable so tests need no waiting."""

    def __init__(self, name: str, failure_threshold: int = 5, reset_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self.times_opened = 0

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        return HALF_OPEN if self._clock() - self._opened_at >= self.reset_s else OPEN

    def call(self, fn: Callable[[], T]) -> T:
        with self._lock:
            state = self._state()
            if state == OPEN or (state == HALF_OPEN and self._trial_running):
                raise CircuitOpen(f"ServiceUnavailable: the circuit breaker of {self.name} is open after "
                                  f"{self._failures} failures in a row; retrying in at most {self.reset_s:g} s")
            self._trial_running = state == HALF_OPEN
        try:
            result = fn()
        except EndpointError as exc:
            self._settle(success=is_caller_error(exc))
            raise
        except BaseException:
            self._settle(success=False)
            raise
        self._settle(success=True)
        return result

    def _settle(self, *, success: bool) -> None:
        with self._lock:
            self._trial_running = False
            if success:
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if self._opened_at is not None or self._failures >= self.failure_threshold:
                if self._opened_at is None or self._state() == HALF_OPEN:
                    self.times_opened += 1
                self._opened_at = self._clock()


def with_retries(fn: Callable[[], T], attempts: int, *, base_delay_s: float = 0.02, max_delay_s: float = 0.5,
                 rng: random.Random | None = None, sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, called again up to ``attempts`` more times after an EndpointError that is
    not the caller's, each time after a random delay in [0, min(max, base * 2**n)] ("full
    jitter", so that many clients retrying at once do not arrive together). Only for
    idempotent calls: an inference may safely run twice."""
    rng = rng or random.Random()
    for attempt in range(attempts):
        try:
            return fn()
        except CircuitOpen:
            raise
        except EndpointError as exc:
            if is_caller_error(exc):
                raise
            sleep(rng.uniform(0.0, min(max_delay_s, base_delay_s * 2 ** attempt)))
    return fn()
