"""The client's circuit breaker and retries, on a fake clock: no waiting, no timing."""

from __future__ import annotations

import random
from contextlib import suppress

import pytest

from findining_mlops.errors import EndpointError
from findining_mlops.serving.client.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    CircuitOpen,
    is_caller_error,
    with_retries,
)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fail():
    raise EndpointError("ServiceUnavailable: the server dropped the request")


def _ok():
    return "answer"


def test_the_breaker_opens_after_the_threshold_of_failures_in_a_row_and_then_refuses_without_calling():
    clock = Clock()
    breaker = CircuitBreaker("recs", failure_threshold=3, reset_s=5, clock=clock)
    for _ in range(3):
        with pytest.raises(EndpointError, match="ServiceUnavailable"):
            breaker.call(_fail)
    assert breaker.state == OPEN
    calls = []
    with pytest.raises(CircuitOpen, match="circuit breaker of recs is open"):
        breaker.call(lambda: calls.append(1))
    assert calls == []


def test_a_success_between_failures_keeps_the_breaker_closed():
    breaker = CircuitBreaker("recs", failure_threshold=3, clock=Clock())
    for fn in (_fail, _fail, _ok, _fail, _fail):
        with suppress(EndpointError):
            breaker.call(fn)
    assert breaker.state == CLOSED


def test_after_the_reset_time_one_trial_call_closes_the_breaker_when_it_succeeds():
    clock = Clock()
    breaker = CircuitBreaker("recs", failure_threshold=1, reset_s=5, clock=clock)
    with pytest.raises(EndpointError):
        breaker.call(_fail)
    clock.now = 5.0
    assert breaker.state == HALF_OPEN
    assert breaker.call(_ok) == "answer"
    assert breaker.state == CLOSED


def test_a_failed_trial_call_opens_the_breaker_again_for_another_reset_time():
    clock = Clock()
    breaker = CircuitBreaker("recs", failure_threshold=1, reset_s=5, clock=clock)
    with pytest.raises(EndpointError):
        breaker.call(_fail)
    clock.now = 5.0
    with pytest.raises(EndpointError):
        breaker.call(_fail)
    assert breaker.state == OPEN
    assert breaker.times_opened == 2
    clock.now = 9.9
    assert breaker.state == OPEN
    clock.now = 10.0
    assert breaker.state == HALF_OPEN


def test_a_request_the_model_refused_does_not_count_against_the_endpoint():
    breaker = CircuitBreaker("recs", failure_threshold=1, clock=Clock())
    refused = EndpointError("ModelError: ... Received client error (400) from the model with message: bad body")
    with pytest.raises(EndpointError):
        breaker.call(lambda: (_ for _ in ()).throw(refused))
    assert is_caller_error(refused)
    assert breaker.state == CLOSED


def test_retries_call_again_after_jittered_growing_delays_and_return_the_first_answer():
    outcomes = iter([_fail, _fail, _ok])
    delays = []
    assert with_retries(lambda: next(outcomes)(), 2, base_delay_s=0.1, rng=random.Random(1),
                        sleep=delays.append) == "answer"
    assert len(delays) == 2
    assert 0.0 <= delays[0] <= 0.1 and 0.0 <= delays[1] <= 0.2
    assert delays[0] != delays[1]


def test_retries_give_up_after_the_attempts_with_the_last_error():
    calls = []

    def failing():
        calls.append(1)
        _fail()

    with pytest.raises(EndpointError, match="ServiceUnavailable"):
        with_retries(failing, 2, sleep=lambda s: None)
    assert len(calls) == 3


@pytest.mark.parametrize("error", [
    EndpointError("ValidationError: endpoint recs does not exist"),
    EndpointError("ModelError: Received client error (415) from the model with message: send json"),
    CircuitOpen("ServiceUnavailable: the circuit breaker of recs is open"),
], ids=["validation", "client-error", "breaker-open"])
def test_retries_do_not_repeat_a_refused_request_or_an_open_breaker(error):
    calls = []

    def refused():
        calls.append(1)
        raise error

    with pytest.raises(EndpointError):
        with_retries(refused, 3, sleep=lambda s: None)
    assert calls == [1]
