"""The canary rollout policy: which rollouts are valid, how traffic is split, and the
guardrail alarms on a challenger variant, read from CloudWatch-style metrics and from the
data capture of real invocations of both variants, then judged."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.deployment import verdict
from findining_mlops.deployment.canary import read_bake, split_weights, validate_rollout
from findining_mlops.deployment.verdict import Alarm, CanaryThresholds
from findining_mlops.errors import DataValidationError
from findining_mlops.models import contract
from findining_mlops.models.requests import frame_requests
from findining_mlops.platform.ports import APPROVED, MetricDatum, ProductionVariant
from findining_mlops.serving.server.handlers import inject_faults

pytestmark = pytest.mark.usefixtures("fault_drill_endpoints")  # the faulty models are drills

UTC = UTC
START = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
ENDPOINT = "canary-endpoint"
CHAMPION, CHALLENGER = "champion", "challenger"
DAY = date(2026, 10, 1)


# -- validate_rollout --------------------------------------------------------------------
@pytest.mark.parametrize("strategy, percent, ramp", [
    ("canary", 10, [10, 50, 100]),
    ("canary", 50, [50, 100]),
    ("canary", 1, [1, 2, 100]),
    ("all_at_once", 10, [10, 100]),
])
def test_valid_rollouts_pass(strategy, percent, ramp):
    validate_rollout(strategy, percent, ramp)


@pytest.mark.parametrize("strategy, percent, ramp, message", [
    ("blue_green", 10, [10, 100], "strategy 'blue_green' is not one of canary, all_at_once"),
    ("canary", 0, [10, 100], "canary_percent 0 is outside 1..50"),
    ("canary", 150, [10, 100], "canary_percent 150 is outside 1..50"),
    ("canary", 51, [51, 100], "canary_percent 51 is outside 1..50"),
    ("canary", "10", [10, 100], "canary_percent '10' is outside 1..50"),
    ("canary", 10, [], "ramp is empty"),
    ("canary", 10, [10, 50, 50, 100], "ramp [10, 50, 50, 100] is not strictly increasing: 50 follows 50"),
    ("canary", 10, [10, 60, 30, 100], "not strictly increasing: 30 follows 60"),
    ("canary", 10, [10, 50, 120], "ramp step 120 is outside 1..100"),
    ("canary", 10, [10, 50, 90], "ramp [10, 50, 90] ends at 90; it must end at 100"),
    ("canary", 10, [20, 50, 100], "starts at 20; it must start at canary_percent 10"),
])
def test_invalid_rollouts_name_the_bad_value(strategy, percent, ramp, message):
    with pytest.raises(DataValidationError) as error:
        validate_rollout(strategy, percent, ramp)
    assert message in str(error.value)


# -- split_weights -----------------------------------------------------------------------
def test_split_weights_gives_the_challenger_its_percent_and_the_champion_the_rest():
    assert split_weights(CHAMPION, CHALLENGER, 10) == {CHALLENGER: 10.0, CHAMPION: 90.0}
    assert split_weights(CHAMPION, CHALLENGER, 100) == {CHALLENGER: 100.0, CHAMPION: 0.0}


def test_split_weights_refuses_one_variant_twice_or_a_percent_outside_0_100():
    with pytest.raises(DataValidationError, match="both variant 'champion'"):
        split_weights(CHAMPION, CHAMPION, 10)
    with pytest.raises(DataValidationError, match="150 % is outside 0..100"):
        split_weights(CHAMPION, CHALLENGER, 150)


# -- alarms from metrics -----------------------------------------------------------------
def _put_requests(platform, variant: str, requests: int, errors: int = 0, latency_ms: float = 100.0,
                  when: datetime = START + timedelta(minutes=5)):
    """What the endpoint runtime records: per request Invocations 1, Invocation5XXErrors 1/0,
    and ModelLatency in microseconds for the successful ones."""
    dims = {"EndpointName": ENDPOINT, "VariantName": variant}
    data = []
    for i in range(requests):
        failed = i < errors
        data += [MetricDatum("Invocations", 1.0, dims, when, "Count"),
                 MetricDatum("Invocation5XXErrors", float(failed), dims, when, "Count")]
        if not failed:
            data.append(MetricDatum("ModelLatency", latency_ms * 1000, dims, when, "Microseconds"))
    platform.metrics.put("AWS/SageMaker", data)


def _alarms(platform, thresholds: CanaryThresholds | None = None, spec=None) -> dict[str, Alarm]:
    thresholds = thresholds or CanaryThresholds()
    readings = read_bake(platform, spec or get_model("sentiment"), ENDPOINT, CHAMPION, CHALLENGER, START, END,
                         thresholds.min_prediction_samples)
    return {a.name: a for a in verdict.alarms(readings, thresholds)}


def test_the_seeds_thresholds_are_the_defaults():
    assert CanaryThresholds() == CanaryThresholds(max_model_latency_ms=5000.0, max_error_rate=0.05,
                                                  max_prediction_shift=0.2, min_requests=20,
                                                  min_prediction_samples=100)


def test_average_latency_above_5_s_fires(platform):
    _put_requests(platform, CHALLENGER, 30, latency_ms=6000)
    alarm = _alarms(platform)["ModelLatency"]
    assert (alarm.firing, alarm.state, alarm.variant) == (True, "firing", CHALLENGER)
    assert alarm.value == pytest.approx(6000.0)
    assert alarm.threshold == 5000.0
    assert "6000.0 ms" in alarm.detail


def test_average_latency_below_5_s_does_not_fire(platform):
    _put_requests(platform, CHALLENGER, 30, latency_ms=4000)
    alarm = _alarms(platform)["ModelLatency"]
    assert (alarm.firing, alarm.state) == (False, "ok")
    assert alarm.value == pytest.approx(4000.0)


def test_error_rate_above_5_percent_fires(platform):
    _put_requests(platform, CHALLENGER, 30, errors=3)
    alarm = _alarms(platform)["Invocation5XXErrors"]
    assert (alarm.firing, alarm.value, alarm.threshold) == (True, pytest.approx(0.1), 0.05)
    assert "3 of 30 requests" in alarm.detail


def test_error_rate_below_5_percent_does_not_fire(platform):
    _put_requests(platform, CHALLENGER, 30, errors=1)
    alarm = _alarms(platform)["Invocation5XXErrors"]
    assert (alarm.firing, alarm.state, alarm.value) == (False, "ok", pytest.approx(1 / 30))


def test_fewer_requests_than_min_requests_cannot_judge(platform):
    """19 requests, all slow and most failing: too few to decide anything yet."""
    _put_requests(platform, CHALLENGER, 19, errors=10, latency_ms=9000)
    alarms = _alarms(platform)
    for name in ("ModelLatency", "Invocation5XXErrors", "PredictionShift"):
        assert (alarms[name].firing, alarms[name].state) == (False, "insufficient_data"), name
    assert "only 19 requests" in alarms["ModelLatency"].detail
    assert "min_requests 20" in alarms["ModelLatency"].detail


def test_when_every_request_failed_there_is_no_latency_to_judge(platform):
    _put_requests(platform, CHALLENGER, 25, errors=25)
    alarms = _alarms(platform)
    assert alarms["ModelLatency"].state == "insufficient_data"
    assert (alarms["Invocation5XXErrors"].firing, alarms["Invocation5XXErrors"].value) == (True, 1.0)


def test_only_the_challengers_metrics_inside_the_window_count(platform):
    _put_requests(platform, CHAMPION, 30, errors=30)  # another variant
    _put_requests(platform, CHALLENGER, 30, errors=30, when=START - timedelta(seconds=1))  # before
    _put_requests(platform, CHALLENGER, 30, errors=30, when=END)  # the window ends before `end`
    _put_requests(platform, CHALLENGER, 30, latency_ms=50, when=START)
    alarms = _alarms(platform)
    assert alarms["Invocation5XXErrors"].value == 0.0
    assert alarms["ModelLatency"].value == pytest.approx(50.0)


def test_thresholds_are_configurable(platform):
    _put_requests(platform, CHALLENGER, 10, latency_ms=150)
    alarm = _alarms(platform, CanaryThresholds(max_model_latency_ms=100, min_requests=10))["ModelLatency"]
    assert (alarm.firing, alarm.threshold) == (True, 100)


def test_an_alarm_is_plain_json_with_its_state(platform):
    _put_requests(platform, CHALLENGER, 30, errors=3)
    as_dict = _alarms(platform)["Invocation5XXErrors"].to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert {k: as_dict[k] for k in ("name", "variant", "firing", "state")} == {
        "name": "Invocation5XXErrors", "variant": CHALLENGER, "firing": True, "state": "firing"}


@pytest.mark.parametrize("start, end, champion, message", [
    (START.replace(tzinfo=None), END, CHAMPION, "timezone-aware"),
    (END, START, CHAMPION, "the bake window is empty"),
    (START, END, CHALLENGER, "both variant 'challenger'"),
])
def test_a_bad_window_or_variant_pair_is_refused(platform, start, end, champion, message):
    with pytest.raises(DataValidationError, match=message):
        read_bake(platform, get_model("sentiment"), ENDPOINT, champion, CHALLENGER, start, end, 100)


# -- prediction shift from the data capture of real invocations --------------------------
def _archive(directory, model, name: str):
    """A model.tar.gz made with the training contract, as a training job leaves it."""
    model_dir = directory / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_MODEL_DIR", str(model_dir))
        patch.delenv("SM_OUTPUT_DATA_DIR", raising=False)
        contract.write_model(model, {}, pd.DataFrame({"prediction": [0.0]}), {"model": name})
    archive = directory / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


@pytest.fixture(scope="module")
def sentiment_archives(tmp_path_factory):
    """A small real sentiment model, and faulty copies of it: constant predictions, failures."""
    from findining_mlops.models.sentiment.train import HYPERPARAMETERS, fit

    reviews = World(seed=2).reviews(DAY, 200, ScenarioPlan())
    directory = tmp_path_factory.mktemp("sentiment")
    with threadpool_limits(limits=1):  # tiny models: thread start-up would cost more than the fit
        healthy = _archive(directory, fit(reviews, reviews.iloc[:0], HYPERPARAMETERS), "sentiment")
    shifted, failing = directory / "shifted.tar.gz", directory / "failing.tar.gz"
    inject_faults(healthy, shifted, {"prediction_shift": "constant"})
    inject_faults(healthy, failing, {"error_rate": 0.5})
    return {"healthy": healthy, "shifted": shifted, "failing": failing}


@pytest.fixture(scope="module")
def recommendation_archives(tmp_path_factory):
    from findining_mlops.models.recommendation.train import HYPERPARAMETERS, fit

    interactions = World(seed=2).interactions(DAY, 60, ScenarioPlan())
    directory = tmp_path_factory.mktemp("recommendation")
    with threadpool_limits(limits=1):
        model = fit(interactions, interactions.iloc[:0], {**HYPERPARAMETERS, "max_iter": 20})
    healthy = _archive(directory, model, "recommendation")
    shifted = directory / "shifted.tar.gz"
    inject_faults(healthy, shifted, {"prediction_shift": "constant"})
    return {"healthy": healthy, "shifted": shifted}


def _deploy(platform, model: str, archives: dict, variants: dict[str, str]):
    """Registers each archive as a version and deploys ``variant name -> archive name``."""
    versions = {}
    for name, archive in archives.items():
        key = f"training/{model}/{name}/output/model.tar.gz"
        platform.store.upload_file(archive, key)
        versions[name] = platform.registry.register(model, key, status=APPROVED, metrics={}, lineage={},
                                                    reason="canary test", idempotency_key=name)
    platform.endpoints.deploy(ENDPOINT, [
        ProductionVariant(variant, model, versions[archive].version, versions[archive].artifact_uri, 1.0)
        for variant, archive in variants.items()
    ])


def _send(platform, variant: str, bodies: list[dict], first: datetime = START + timedelta(minutes=1)) -> None:
    """Each request to exactly this variant, a second apart, from ``first`` on."""
    for i, body in enumerate(bodies):
        try:
            platform.endpoints.invoke(ENDPOINT, json.dumps(body, ensure_ascii=False).encode(), target_variant=variant,
                                      event_time=first + timedelta(seconds=i))
        except Exception as exc:  # a failing variant's errors are what the metrics record
            assert "fault injection" in str(exc)
    platform.endpoints.flush()


def _reviews(n: int = 120) -> list[dict]:
    return [{"text": text} for text in World(seed=5).reviews(DAY, n, ScenarioPlan())["text"]]


def _recommendation_requests(n: int = 30) -> list[dict]:
    frame = World(seed=5).interactions(DAY, n, ScenarioPlan())
    return [body for _, _, body in frame_requests(get_model("recommendation"), frame)]


def test_the_same_model_as_challenger_does_not_shift_predictions(platform, sentiment_archives):
    _deploy(platform, "sentiment", sentiment_archives, {CHAMPION: "healthy", CHALLENGER: "healthy"})
    for variant in (CHAMPION, CHALLENGER):
        _send(platform, variant, _reviews())
    alarms = _alarms(platform)
    shift = alarms["PredictionShift"]
    assert (shift.firing, shift.state, shift.variant) == (False, "ok", CHALLENGER)
    assert shift.value == pytest.approx(0.0)  # the same requests, the same labels
    assert "jensenshannon distance" in shift.detail and "120 requests" in shift.detail
    assert alarms["Invocation5XXErrors"].state == "ok"


def test_a_challenger_with_constant_predictions_fires_prediction_shift(platform, sentiment_archives):
    _deploy(platform, "sentiment", sentiment_archives, {CHAMPION: "healthy", CHALLENGER: "shifted"})
    for variant in (CHAMPION, CHALLENGER):
        _send(platform, variant, _reviews())
    shift = _alarms(platform)["PredictionShift"]
    assert (shift.firing, shift.state) == (True, "firing")
    assert shift.value > shift.threshold == 0.2
    assert "same window" in shift.detail


def test_a_numeric_prediction_shift_fires_too(platform, recommendation_archives):
    """Recommendation scores are numeric: reversed scores move their distribution. (30
    requests are 600 scores, so a lower sample minimum keeps the test quick.)"""
    _deploy(platform, "recommendation", recommendation_archives, {CHAMPION: "healthy", CHALLENGER: "shifted"})
    for variant in (CHAMPION, CHALLENGER):
        _send(platform, variant, _recommendation_requests())
    shift = _alarms(platform, CanaryThresholds(min_prediction_samples=30),
                    get_model("recommendation"))["PredictionShift"]
    assert shift.firing
    assert "wasserstein distance" in shift.detail


def test_a_challenger_that_fails_half_its_requests_fires_the_error_alarm(platform, sentiment_archives):
    _deploy(platform, "sentiment", sentiment_archives, {CHAMPION: "healthy", CHALLENGER: "failing"})
    _send(platform, CHALLENGER, _reviews(100))
    alarm = _alarms(platform)["Invocation5XXErrors"]
    assert alarm.firing
    assert alarm.value == pytest.approx(0.5, abs=0.2)


def test_fewer_captured_challenger_requests_than_min_prediction_samples_cannot_judge_the_shift(platform,
                                                                                               sentiment_archives):
    _deploy(platform, "sentiment", sentiment_archives, {CHAMPION: "healthy", CHALLENGER: "shifted"})
    _send(platform, CHAMPION, _reviews())
    _send(platform, CHALLENGER, _reviews(99))
    _send(platform, CHALLENGER, _reviews(), first=START - timedelta(minutes=30))  # before the window
    shift = _alarms(platform)["PredictionShift"]
    assert (shift.firing, shift.state) == (False, "insufficient_data")
    assert "only 99 captured requests of challenger" in shift.detail


def test_without_champion_traffic_in_the_window_its_previous_24_h_are_the_reference(platform, sentiment_archives):
    _deploy(platform, "sentiment", sentiment_archives, {CHAMPION: "healthy", CHALLENGER: "shifted"})
    _send(platform, CHAMPION, _reviews(), first=START - timedelta(hours=20))
    _send(platform, CHALLENGER, _reviews())
    shift = _alarms(platform)["PredictionShift"]
    assert shift.firing
    assert "the 24 h up to" in shift.detail


def test_without_any_recent_champion_traffic_the_shift_cannot_be_judged(platform, sentiment_archives):
    _deploy(platform, "sentiment", sentiment_archives, {CHAMPION: "healthy", CHALLENGER: "shifted"})
    _send(platform, CHAMPION, _reviews(), first=START - timedelta(hours=30))  # older than 24 h before the end
    _send(platform, CHALLENGER, _reviews())
    shift = _alarms(platform)["PredictionShift"]
    assert shift.state == "insufficient_data"
    assert "only 0 captured requests of the champion champion" in shift.detail
