"""The canary verdict from the alarm readings of one bake look alone — no store, no
platform: the seed's thresholds (model latency over 5 s, 5XX rate over 5 %), the
prediction-distribution guardrail against the champion, the bake time, the limit on
waiting for traffic; and the cause recorded for a rollout stopped before it finished."""

from __future__ import annotations

from datetime import timedelta

import pytest

from findining_mlops.deployment.verdict import (
    BAKING,
    PROMOTE,
    RAMP,
    ROLLBACK,
    BakeLook,
    BakeReadings,
    CanaryThresholds,
    ChallengerMetrics,
    PredictionSamples,
    Verdict,
    abort_cause,
    judge,
)

CHAMPION, CHALLENGER = "sentiment-v1", "sentiment-v2"
WINDOW = f"{CHALLENGER} of sentiment-endpoint in 2026-10-05T12:00:00+00:00 .. 2026-10-05T12:10:00+00:00"
RAMP_STEPS = (10, 50, 100)
SEED = CanaryThresholds()  # the seed's thresholds: 5 s latency, 5 % errors


def metrics(requests: int = 200, errors: int = 0, latency_ms: float = 80.0) -> ChallengerMetrics:
    """What the endpoint records: ModelLatency (in microseconds) for each successful request."""
    succeeded = requests - errors
    return ChallengerMetrics(CHALLENGER, WINDOW, requests, float(errors), latency_ms * 1000 * succeeded, succeeded)


def predictions(samples: int = 200, champion_samples: int = 200, distance: float | None = 0.03,
                reference_window: str = "the same window") -> PredictionSamples:
    return PredictionSamples(CHALLENGER, CHAMPION, samples, champion_samples, reference_window, distance,
                             "jensenshannon")


def look(challenger: ChallengerMetrics | None = None, shift: PredictionSamples | None = None, *, step: int = 0,
         baked_minutes: float = 11, bake_minutes: float = 10, insufficient_data_minutes: float = 60,
         champion: bool = True) -> BakeLook:
    readings = BakeReadings(challenger or metrics(), shift or predictions()) if champion else None
    return BakeLook(step, RAMP_STEPS, bake_minutes, insufficient_data_minutes, timedelta(minutes=baked_minutes),
                    readings)


def verdict_of(bake_look: BakeLook, thresholds: CanaryThresholds = SEED) -> Verdict:
    return judge(bake_look, thresholds)


def alarm(verdict: Verdict, name: str):
    [found] = [a for a in verdict.alarms if a.name == name]
    return found


# -- the seed's alarms -------------------------------------------------------------------
def test_a_model_latency_over_5_s_rolls_back_naming_model_latency():
    verdict = verdict_of(look(metrics(latency_ms=6000)))
    assert verdict.action == ROLLBACK
    assert [a.name for a in verdict.fired] == ["ModelLatency"]
    assert verdict.reason == "rolled back by canary alarm(s): ModelLatency on sentiment-v2 = 6000.0 (threshold 5000.0)"
    assert "average ModelLatency 6000.0 ms over 200 successful requests" in alarm(verdict, "ModelLatency").detail


def test_a_model_latency_of_exactly_5_s_is_not_over_the_threshold():
    verdict = verdict_of(look(metrics(latency_ms=5000)))
    assert alarm(verdict, "ModelLatency").state == "ok"
    assert verdict.action == RAMP


def test_a_5xx_rate_over_5_percent_rolls_back():
    verdict = verdict_of(look(metrics(requests=200, errors=11)))
    assert verdict.action == ROLLBACK
    assert [a.name for a in verdict.fired] == ["Invocation5XXErrors"]
    errors = alarm(verdict, "Invocation5XXErrors")
    assert errors.value == pytest.approx(0.055) and errors.threshold == 0.05
    assert "11 of 200 requests" in errors.detail and "(5.5%; threshold 5.0%)" in errors.detail


def test_a_5xx_rate_of_5_percent_does_not_fire():
    verdict = verdict_of(look(metrics(requests=200, errors=10)))
    assert alarm(verdict, "Invocation5XXErrors").state == "ok"
    assert verdict.action == RAMP


def test_predictions_far_from_the_champions_breach_the_guardrail_and_roll_back():
    verdict = verdict_of(look(shift=predictions(distance=0.45)))
    assert verdict.action == ROLLBACK
    shift = alarm(verdict, "PredictionShift")
    assert (shift.firing, shift.value, shift.threshold) == (True, 0.45, 0.2)
    assert shift.detail == ("jensenshannon distance 0.45 (threshold 0.2) between the predictions of sentiment-v2 "
                            "(200 requests) and of the champion sentiment-v1 (200 requests in the same window)")


def test_a_small_prediction_shift_a_retrained_model_may_fairly_have_passes():
    assert verdict_of(look(shift=predictions(distance=0.1))).action == RAMP


def test_every_firing_alarm_is_named_in_the_reason():
    verdict = verdict_of(look(metrics(errors=100, latency_ms=7000), predictions(distance=0.5)))
    assert [a.name for a in verdict.fired] == ["ModelLatency", "Invocation5XXErrors", "PredictionShift"]
    assert verdict.reason.count(" on sentiment-v2 = ") == 3


def test_an_alarm_rolls_back_at_once_however_long_the_bake_has_left():
    assert verdict_of(look(metrics(errors=50), baked_minutes=1)).action == ROLLBACK


def test_the_thresholds_are_the_callers():
    strict = CanaryThresholds(max_model_latency_ms=50, max_error_rate=0.0, max_prediction_shift=0.01)
    verdict = verdict_of(look(metrics(errors=1), predictions(distance=0.02)), strict)
    assert [a.name for a in verdict.fired] == ["ModelLatency", "Invocation5XXErrors", "PredictionShift"]


# -- all green: ramp, promote, or keep baking ---------------------------------------------
def test_all_green_in_the_last_step_once_baked_promotes():
    verdict = verdict_of(look(step=2))
    assert verdict == Verdict(PROMOTE, verdict.alarms)
    assert [a.state for a in verdict.alarms] == ["ok", "ok", "ok"] and verdict.fired == ()


def test_all_green_in_an_earlier_step_once_baked_ramps_to_the_next():
    assert verdict_of(look(step=0)).action == RAMP
    assert verdict_of(look(step=1)).action == RAMP


def test_all_green_before_the_bake_time_is_up_keeps_baking():
    assert verdict_of(look(baked_minutes=9.5)).action == BAKING


def test_a_step_ends_the_moment_its_bake_time_is_up():
    assert verdict_of(look(baked_minutes=10)).action == RAMP


# -- too little traffic to judge ----------------------------------------------------------
def test_no_traffic_yet_keeps_baking_with_every_alarm_unable_to_judge():
    verdict = verdict_of(look(metrics(requests=0), predictions(samples=0, champion_samples=0, distance=None),
                              baked_minutes=30))
    assert verdict.action == BAKING
    assert [a.state for a in verdict.alarms] == ["insufficient_data"] * 3 and verdict.fired == ()


def test_fewer_requests_than_min_requests_cannot_fire_however_bad_they_are():
    verdict = verdict_of(look(metrics(requests=19, errors=10, latency_ms=9000), baked_minutes=30))
    assert verdict.action == BAKING
    assert "only 19 requests to" in alarm(verdict, "ModelLatency").detail
    assert "(< min_requests 20): cannot judge yet" in alarm(verdict, "Invocation5XXErrors").detail


def test_when_every_request_failed_the_error_rate_rolls_back_without_a_latency():
    verdict = verdict_of(look(metrics(requests=30, errors=30)))
    assert alarm(verdict, "ModelLatency").state == "insufficient_data"
    assert verdict.action == ROLLBACK and [a.name for a in verdict.fired] == ["Invocation5XXErrors"]


def test_too_few_captured_challenger_predictions_cannot_judge_the_shift():
    verdict = verdict_of(look(shift=predictions(samples=99, champion_samples=0, distance=None)))
    shift = alarm(verdict, "PredictionShift")
    assert shift.state == "insufficient_data"
    assert "only 99 captured requests of sentiment-v2 in the window (< min_prediction_samples 100)" in shift.detail
    assert verdict.action == BAKING


def test_too_few_champion_predictions_leave_nothing_to_compare_with():
    window = "the 24 h up to 2026-10-05T12:10:00+00:00"
    verdict = verdict_of(look(shift=predictions(champion_samples=40, distance=None, reference_window=window)))
    assert alarm(verdict, "PredictionShift").detail == (
        f"only 40 captured requests of the champion sentiment-v1 in {window} (< min_prediction_samples 100): "
        "nothing to compare with")
    assert verdict.action == BAKING


def test_a_step_still_unjudged_after_insufficient_data_minutes_rolls_back_without_blaming_the_version():
    verdict = verdict_of(look(metrics(requests=5), step=1, baked_minutes=60, insufficient_data_minutes=60))
    assert verdict.action == ROLLBACK and verdict.fired == ()  # no alarm fired: the version stays Approved
    assert verdict.reason.startswith(
        "rolled back for insufficient data: step 2/3 (50 %) could not be judged within insufficient_data_minutes 60: "
        f"only 5 requests to {WINDOW} (< min_requests 20): cannot judge yet; ")


def test_a_bake_time_of_0_asks_for_no_bake_and_no_traffic():
    """The winner of an A/B test was judged on real users: it ramps without waiting."""
    quiet = look(metrics(requests=0), predictions(samples=0, champion_samples=0, distance=None),
                 baked_minutes=0.01, bake_minutes=0)
    assert verdict_of(quiet).action == RAMP


def test_without_a_champion_a_step_ends_on_its_bake_time_alone():
    assert verdict_of(look(champion=False, step=2)) == Verdict(PROMOTE)
    assert verdict_of(look(champion=False, step=2, baked_minutes=5)) == Verdict(BAKING)


# -- the alarm as stored ------------------------------------------------------------------
def test_an_alarm_is_stored_as_plain_json_with_its_state_last():
    record = alarm(verdict_of(look(metrics(errors=20))), "Invocation5XXErrors").to_dict()
    assert list(record) == ["name", "variant", "value", "threshold", "firing", "detail", "insufficient_data", "state"]
    assert (record["firing"], record["state"]) == (True, "firing")


# -- a rollout stopped before it finished -------------------------------------------------
def test_the_abort_cause_names_every_task_that_neither_succeeded_nor_was_skipped():
    states = {"plan": "success", "start": "success", "bake": "failed", "finish": "upstream_failed",
              "close": "running"}
    assert abort_cause(states, teardown="close") == (
        "task(s) bake failed, finish upstream_failed (failed, timed out or marked failed)")


def test_the_abort_cause_counts_a_task_that_never_ran():
    assert abort_cause({"bake": "success", "finish": None}, teardown="close") == (
        "task(s) finish None (failed, timed out or marked failed)")


def test_when_every_other_task_succeeded_or_was_skipped_the_run_ended_before_finish():
    states = {"plan": "success", "start": "skipped", "close": "running"}
    assert abort_cause(states, teardown="close") == "the run ended before finish"
