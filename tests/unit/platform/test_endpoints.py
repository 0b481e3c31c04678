"""Local endpoints serving a really trained sentiment model: weighted production
variants, targeted invocations, SageMaker-format data capture, weight updates, safe
deployments and per-variant CloudWatch-style metrics."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sklearn

from findining_mlops.config.catalog import get_model
from findining_mlops.data.capture import parse_record
from findining_mlops.data.synthetic import generate
from findining_mlops.errors import EndpointError
from findining_mlops.platform.local import local_platform
from findining_mlops.platform.ports import APPROVED, COMPLETED, IN_PROGRESS, ProductionVariant
from findining_mlops.training.job import training_spec
from findining_mlops.training.snapshot import snapshot_training_data

ENDPOINT = "sentiment-endpoint"
NAMESPACE = "AWS/SageMaker"
UTC = UTC
EVENT_DAY = datetime(2026, 10, 5, tzinfo=UTC)
REVIEW = {"text": "the char siu was delicious, friendly staff, would definitely come back."}
TRAINING_TIMEOUT_S = 120


def _wait_for(platform, name: str):
    deadline = time.monotonic() + TRAINING_TIMEOUT_S
    while (job := platform.training.describe(name)).status == IN_PROGRESS:
        if time.monotonic() > deadline:
            raise AssertionError(f"training job {name} still InProgress after {TRAINING_TIMEOUT_S} s")
        time.sleep(0.2)
    return job


@pytest.fixture(scope="module")
def sentiment_versions(tmp_path_factory):
    """Two sentiment versions trained through the real training contract (C=4 and C=1)."""
    platform = local_platform(tmp_path_factory.mktemp("trained"))
    generate(platform.store, date(2026, 10, 1), 5, seed=3, requests_per_day=10, reviews_per_day=150)
    spec = dataclasses.replace(get_model("sentiment"), training_window_days=5, holdout_days=1, validation_days=1)
    started = []
    for name, c in (("sentiment-endpoint-test-a", 4.0), ("sentiment-endpoint-test-b", 1.0)):
        snapshot = snapshot_training_data(platform, spec, name, date(2026, 10, 5))
        started.append(platform.training.start(training_spec(spec, snapshot, {"c": c})))
    versions = []
    for job in started:  # both jobs train at once
        finished = _wait_for(platform, job.name)
        assert finished.status == COMPLETED, platform.training.logs(job.name)
        versions.append(platform.registry.register(
            "sentiment", finished.model_artifact_key, status=APPROVED, metrics=finished.metrics,
            lineage={"training_job": job.name}, reason="endpoint tests", idempotency_key=job.name,
        ))
    assert [v.version for v in versions] == [1, 2]
    return versions


def _variant(version, weight: float, name: str | None = None) -> ProductionVariant:
    return ProductionVariant(name or f"sentiment-v{version.version}", "sentiment", version.version,
                             version.artifact_uri, weight)


@pytest.fixture
def endpoint(platform, sentiment_versions):
    """A fresh platform (seed 11) whose endpoint serves v1 at 0.9 and v2 at 0.1."""
    v1, v2 = sentiment_versions
    platform.endpoints.deploy(ENDPOINT, [_variant(v1, 0.9), _variant(v2, 0.1)])
    return platform


def _invoke(platform, payload: dict, **kwargs):
    return platform.endpoints.invoke(ENDPOINT, json.dumps(payload, ensure_ascii=False).encode(), **kwargs)


def _total(platform, metric: str, variant: str, start=EVENT_DAY, end=EVENT_DAY + timedelta(days=1)) -> float:
    dims = {"EndpointName": ENDPOINT, "VariantName": variant}
    return sum(d.value for d in platform.metrics.query(NAMESPACE, metric, dims, start, end))


# -- routing -----------------------------------------------------------------------------
def test_traffic_splits_by_variant_weight(endpoint):
    """2,000 untargeted invocations at weights 0.9/0.1 with a fixed seed: the 10 % variant
    serves 0.1 +- 0.025 of them. One binomial standard deviation is
    sqrt(0.1 * 0.9 / 2000) ~= 0.0067, so the tolerance is ~4 standard deviations."""
    served = Counter()
    # skipping sklearn's input validation only makes each of the 2,000 predictions cheaper
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for _ in range(2000):
            served[_invoke(endpoint, REVIEW).variant_name] += 1
    assert set(served) == {"sentiment-v1", "sentiment-v2"}
    assert sum(served.values()) == 2000
    assert served["sentiment-v2"] / 2000 == pytest.approx(0.1, abs=0.025)


def test_the_same_seed_routes_the_same_way(home, sentiment_versions):
    v1, v2 = sentiment_versions
    routes = []
    for run in ("a", "b"):
        platform = local_platform(home / run, seed=5)
        platform.endpoints.deploy(ENDPOINT, [_variant(v1, 0.5), _variant(v2, 0.5)])
        routes.append([_invoke(platform, REVIEW).variant_name for _ in range(40)])
    assert routes[0] == routes[1]
    assert set(routes[0]) == {"sentiment-v1", "sentiment-v2"}


def test_a_target_variant_serves_every_targeted_request(endpoint):
    served = {_invoke(endpoint, REVIEW, target_variant="sentiment-v2").variant_name for _ in range(60)}
    assert served == {"sentiment-v2"}


def test_a_variant_at_weight_zero_gets_only_targeted_traffic(endpoint):
    endpoint.endpoints.update_weights(ENDPOINT, {"sentiment-v2": 0.0})
    assert {_invoke(endpoint, REVIEW).variant_name for _ in range(100)} == {"sentiment-v1"}
    assert _invoke(endpoint, REVIEW, target_variant="sentiment-v2").variant_name == "sentiment-v2"


def test_an_unknown_target_variant_raises(endpoint):
    with pytest.raises(EndpointError, match="sentiment-v9"):
        _invoke(endpoint, REVIEW, target_variant="sentiment-v9")


def test_invoking_an_endpoint_that_does_not_exist_raises(platform):
    with pytest.raises(EndpointError, match="does not exist"):
        platform.endpoints.invoke("no-such-endpoint", b'{"text": "hi"}')


def test_each_variant_answers_with_its_own_model(endpoint):
    answers = {v: json.loads(_invoke(endpoint, REVIEW, target_variant=v).body)
               for v in ("sentiment-v1", "sentiment-v2")}
    for answer in answers.values():
        assert answer["label"] == "positive"
        assert set(answer["scores"]) == {"negative", "neutral", "positive"}
        assert sum(answer["scores"].values()) == pytest.approx(1.0, abs=1e-4)
    # C=4 and C=1 are different models: the same review gets different scores
    assert answers["sentiment-v1"]["scores"] != answers["sentiment-v2"]["scores"]


def test_a_batch_request_answers_every_instance(endpoint):
    texts = ["the char siu was delicious.", "叉燒好難食，服務好差。", "it was okay, nothing special."]
    answer = json.loads(_invoke(endpoint, {"instances": [{"text": t} for t in texts]}).body)
    assert [p["label"] for p in answer["predictions"]] == ["positive", "negative", "neutral"]


# -- data capture ------------------------------------------------------------------------
def test_data_capture_writes_sagemaker_records_under_the_event_hour(endpoint):
    when = datetime(2026, 10, 5, 13, 7, 42, tzinfo=UTC)
    requests = [REVIEW, {"text": "叉燒好好食，一定會再嚟。"},
                {"instances": [{"text": "rude staff."}, {"text": "麻麻地"}]}]
    invocations = {}
    for i, request in enumerate(requests):
        inference_id = f"rev-20261005-{i:06d}"
        invocations[inference_id] = (request, _invoke(endpoint, request, target_variant="sentiment-v1",
                                                      inference_id=inference_id, event_time=when))
    keys = endpoint.store.list_keys(f"datacapture/{ENDPOINT}/")
    assert keys, "no capture file written"
    for key in keys:
        assert re.fullmatch(rf"datacapture/{ENDPOINT}/sentiment-v1/2026/10/05/13/[^/]+\.jsonl", key), key
    lines = [line for key in keys for line in endpoint.store.read_bytes(key).decode("utf-8").splitlines()]
    assert len(lines) == 3
    for line in lines:
        captured = parse_record(line)
        request, invocation = invocations[captured.inference_id]
        assert captured.request == request
        assert captured.response == json.loads(invocation.body)
        assert captured.inference_time == when

        record = json.loads(line)
        endpoint_input = record["captureData"]["endpointInput"]
        assert endpoint_input["observedContentType"] == "application/json"
        assert endpoint_input["mode"] == "INPUT"
        assert endpoint_input["encoding"] == "JSON"
        assert json.loads(endpoint_input["data"]) == request
        endpoint_output = record["captureData"]["endpointOutput"]
        assert (endpoint_output["observedContentType"], endpoint_output["mode"], endpoint_output["encoding"]) == (
            "application/json", "OUTPUT", "JSON")
        assert endpoint_output["data"] == invocation.body.decode("utf-8")
        meta = record["eventMetadata"]
        uuid.UUID(meta["eventId"])
        assert meta["inferenceId"] == captured.inference_id
        assert meta["inferenceTime"] == "2026-10-05T13:07:42.000000Z"
        assert record["eventVersion"] == "0"
    # every inference has its own event id
    assert len({json.loads(line)["eventMetadata"]["eventId"] for line in lines}) == 3


def test_capture_files_are_partitioned_by_variant_and_utc_hour(endpoint):
    hong_kong = timezone(timedelta(hours=8))
    _invoke(endpoint, REVIEW, target_variant="sentiment-v1", event_time=datetime(2026, 10, 5, 9, 59, tzinfo=UTC))
    _invoke(endpoint, REVIEW, target_variant="sentiment-v2", event_time=datetime(2026, 10, 5, 10, 0, tzinfo=UTC))
    # 21:30 in Hong Kong is 13:30 UTC
    _invoke(endpoint, REVIEW, target_variant="sentiment-v2", event_time=datetime(2026, 10, 5, 21, 30, tzinfo=hong_kong))
    folders = sorted(k.rsplit("/", 1)[0] for k in endpoint.store.list_keys(f"datacapture/{ENDPOINT}/"))
    assert folders == [
        f"datacapture/{ENDPOINT}/sentiment-v1/2026/10/05/09",
        f"datacapture/{ENDPOINT}/sentiment-v2/2026/10/05/10",
        f"datacapture/{ENDPOINT}/sentiment-v2/2026/10/05/13",
    ]


def test_an_invocation_without_an_inference_id_gets_one(endpoint):
    invocation = _invoke(endpoint, REVIEW, event_time=EVENT_DAY)
    uuid.UUID(invocation.inference_id)
    (key,) = endpoint.store.list_keys(f"datacapture/{ENDPOINT}/{invocation.variant_name}/")
    assert parse_record(endpoint.store.read_bytes(key).decode()).inference_id == invocation.inference_id


# -- weights -----------------------------------------------------------------------------
def test_deployed_weights_show_as_traffic_percent(endpoint):
    described = endpoint.endpoints.describe(ENDPOINT).to_dict()
    assert described["endpoint"] == ENDPOINT and described["status"] == "InService"
    assert {v["variant"]: (v["model"], v["version"], v["weight"], v["traffic_percent"])
            for v in described["variants"]} == {
        "sentiment-v1": ("sentiment", 1, 0.9, 90.0),
        "sentiment-v2": ("sentiment", 2, 0.1, 10.0),
    }


def test_updated_weights_show_in_describe(endpoint):
    endpoint.endpoints.update_weights(ENDPOINT, {"sentiment-v1": 3, "sentiment-v2": 1})
    percent = {v["variant"]: v["traffic_percent"] for v in endpoint.endpoints.describe(ENDPOINT).to_dict()["variants"]}
    assert percent == {"sentiment-v1": 75.0, "sentiment-v2": 25.0}
    # a partial update keeps the other variant's weight
    endpoint.endpoints.update_weights(ENDPOINT, {"sentiment-v2": 3})
    described = endpoint.endpoints.describe(ENDPOINT)
    assert {v.variant_name: v.weight for v in described.variants} == {"sentiment-v1": 3.0, "sentiment-v2": 3.0}
    assert [v["traffic_percent"] for v in described.to_dict()["variants"]] == [50.0, 50.0]


def test_updating_the_weight_of_an_unknown_variant_raises_and_changes_nothing(endpoint):
    before = endpoint.endpoints.describe(ENDPOINT)
    with pytest.raises(EndpointError, match="sentiment-v3"):
        endpoint.endpoints.update_weights(ENDPOINT, {"sentiment-v3": 0.5, "sentiment-v1": 0.5})
    assert endpoint.endpoints.describe(ENDPOINT).variants == before.variants


@pytest.mark.parametrize("weights", [{"sentiment-v2": -0.1}, {"sentiment-v1": 0.0, "sentiment-v2": 0.0}])
def test_negative_weights_or_a_zero_total_are_refused(endpoint, weights):
    before = endpoint.endpoints.describe(ENDPOINT)
    with pytest.raises(EndpointError, match="weights"):
        endpoint.endpoints.update_weights(ENDPOINT, weights)
    assert endpoint.endpoints.describe(ENDPOINT).variants == before.variants


def test_deploying_a_negative_weight_or_duplicate_variant_names_is_refused(platform, sentiment_versions):
    v1, v2 = sentiment_versions
    with pytest.raises(EndpointError, match="weights"):
        platform.endpoints.deploy(ENDPOINT, [_variant(v1, 1.0), _variant(v2, -1.0)])
    with pytest.raises(EndpointError, match="unique"):
        platform.endpoints.deploy(ENDPOINT, [_variant(v1, 0.5, "same"), _variant(v2, 0.5, "same")])
    with pytest.raises(EndpointError, match="at least one"):
        platform.endpoints.deploy(ENDPOINT, [])
    assert platform.endpoints.describe(ENDPOINT) is None


def test_updating_weights_of_a_missing_endpoint_raises(platform):
    with pytest.raises(EndpointError, match="does not exist"):
        platform.endpoints.update_weights("no-such-endpoint", {"a": 1.0})


# -- deployments -------------------------------------------------------------------------
def test_redeploying_switches_to_a_new_endpoint_config(endpoint, sentiment_versions):
    v1, v2 = sentiment_versions
    before = endpoint.endpoints.describe(ENDPOINT)
    after = endpoint.endpoints.deploy(ENDPOINT, [_variant(v2, 1.0)])
    assert after.config_name != before.config_name
    assert [(v.variant_name, v.model_version) for v in after.variants] == [("sentiment-v2", 2)]
    assert {_invoke(endpoint, REVIEW).variant_name for _ in range(10)} == {"sentiment-v2"}
    assert [e.name for e in endpoint.endpoints.list_endpoints()] == [ENDPOINT]


@pytest.mark.parametrize(
    "artifact, error",
    [
        (b"this is not a gzip file", "not a readable model.tar.gz"),
        ("empty-tarball", "does not load"),
    ],
)
def test_a_variant_that_cannot_load_is_never_deployed(endpoint, sentiment_versions, tmp_path, artifact, error):
    if artifact == "empty-tarball":  # a valid tar.gz without model.joblib
        import io
        import tarfile

        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo("README")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
        artifact = buffer.getvalue()
    uri = endpoint.store.uri("models/sentiment/3/model.tar.gz")
    endpoint.store.write_bytes("models/sentiment/3/model.tar.gz", artifact)
    before = endpoint.endpoints.describe(ENDPOINT)
    broken = ProductionVariant("sentiment-v3", "sentiment", 3, uri, 0.5)
    with pytest.raises(EndpointError, match=error):
        endpoint.endpoints.deploy(ENDPOINT, [_variant(sentiment_versions[0], 0.5), broken])
    after = endpoint.endpoints.describe(ENDPOINT)
    assert after.config_name == before.config_name
    assert after.variants == before.variants
    assert _invoke(endpoint, REVIEW, target_variant="sentiment-v2").variant_name == "sentiment-v2"


def test_a_first_deployment_that_cannot_load_creates_no_endpoint(platform):
    platform.store.write_bytes("models/sentiment/1/model.tar.gz", b"garbage")
    variant = ProductionVariant("sentiment-v1", "sentiment", 1,
                                platform.store.uri("models/sentiment/1/model.tar.gz"), 1.0)
    with pytest.raises(EndpointError):
        platform.endpoints.deploy(ENDPOINT, [variant])
    assert platform.endpoints.describe(ENDPOINT) is None
    assert platform.endpoints.list_endpoints() == []


# -- metrics -----------------------------------------------------------------------------
def test_invocation_metrics_count_the_requests_each_variant_served(endpoint):
    endpoint.endpoints.update_weights(ENDPOINT, {"sentiment-v1": 0.5, "sentiment-v2": 0.5})
    served = Counter(
        _invoke(endpoint, REVIEW, event_time=EVENT_DAY + timedelta(hours=h, minutes=i)).variant_name
        for h in (8, 12, 19) for i in range(20)
    )
    assert served["sentiment-v1"] > 0 and served["sentiment-v2"] > 0
    endpoint.endpoints.flush()
    for variant in ("sentiment-v1", "sentiment-v2"):
        assert _total(endpoint, "Invocations", variant) == served[variant]
        assert _total(endpoint, "Invocation5XXErrors", variant) == 0
        latencies = endpoint.metrics.query(NAMESPACE, "ModelLatency",
                                           {"EndpointName": ENDPOINT, "VariantName": variant},
                                           EVENT_DAY, EVENT_DAY + timedelta(days=1))
        assert len(latencies) == served[variant]
        assert all(d.value > 0 and d.unit == "Microseconds" for d in latencies)
    # the query window is honoured: only the 12:00 hour
    noon = EVENT_DAY + timedelta(hours=12)
    in_noon = sum(_total(endpoint, "Invocations", v, noon, noon + timedelta(hours=1))
                  for v in ("sentiment-v1", "sentiment-v2"))
    assert in_noon == 20


def test_metrics_of_an_invocation_stamped_in_another_time_zone_count_in_its_utc_hour(endpoint):
    hong_kong = timezone(timedelta(hours=8))
    _invoke(endpoint, REVIEW, target_variant="sentiment-v1", event_time=datetime(2026, 10, 5, 21, 30, tzinfo=hong_kong))
    endpoint.endpoints.flush()
    one_pm = EVENT_DAY + timedelta(hours=13)  # its capture file is under .../2026/10/05/13/
    assert _total(endpoint, "Invocations", "sentiment-v1", one_pm, one_pm + timedelta(hours=1)) == 1


def test_a_malformed_request_raises_a_model_error_with_the_client_error_and_counts_a_4xx(endpoint):
    when = EVENT_DAY + timedelta(hours=13)
    with pytest.raises(EndpointError, match=r"ModelError: .*client error \(400\).*JSONDecodeError"):
        endpoint.endpoints.invoke(ENDPOINT, b"{not json", target_variant="sentiment-v1", event_time=when)
    with pytest.raises(EndpointError, match="'text'"):
        _invoke(endpoint, {"review": "no text field"}, target_variant="sentiment-v1", event_time=when)
    endpoint.endpoints.flush()
    assert _total(endpoint, "Invocation4XXErrors", "sentiment-v1") == 2
    assert _total(endpoint, "Invocation5XXErrors", "sentiment-v1") == 0  # the caller's fault: no canary alarm
    assert _total(endpoint, "Invocations", "sentiment-v1") == 2
    assert _total(endpoint, "Invocation5XXErrors", "sentiment-v2") == 0
    # a failed inference has no response, so nothing is captured
    assert endpoint.store.list_keys(f"datacapture/{ENDPOINT}/") == []


def test_a_non_json_content_type_is_a_client_error(endpoint):
    with pytest.raises(EndpointError, match=r"client error \(415\).*unsupported content type"):
        endpoint.endpoints.invoke(ENDPOINT, b"text,label", content_type="text/csv", event_time=EVENT_DAY)
    endpoint.endpoints.flush()
    assert sum(_total(endpoint, "Invocation4XXErrors", v) for v in ("sentiment-v1", "sentiment-v2")) == 1
