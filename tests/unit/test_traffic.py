"""Synthetic load against a live endpoint: a steady schedule that does not drift, every
request ending as a response or a recorded error, a capture record for every response, and
the ``python -m devtools.traffic`` command, which ``findining-mlops traffic`` names."""

from __future__ import annotations

import json
import tarfile
import threading
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from devtools import traffic
from devtools.traffic import generate_traffic
from devtools.traffic import main as traffic_main
from findining_mlops.cli.main import main
from findining_mlops.config.catalog import get_model
from findining_mlops.data.capture import parse_record
from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.errors import DataValidationError
from findining_mlops.models import contract
from findining_mlops.models.recommendation.features import request_rows
from findining_mlops.models.requests import synthetic_requests
from findining_mlops.platform.ports import APPROVED, ProductionVariant
from findining_mlops.serving.server.handlers import inject_faults

pytestmark = pytest.mark.usefixtures("fault_drill_endpoints")  # the faulty models are drills

SPEC = get_model("sentiment")
DAY = date(2026, 10, 1)


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """A small real sentiment model.tar.gz (the training contract's layout), and a copy that
    fails half of its requests."""
    from findining_mlops.models.sentiment.train import HYPERPARAMETERS, fit

    reviews = World(seed=2).reviews(DAY, 200, ScenarioPlan())
    directory = tmp_path_factory.mktemp("sentiment")
    model_dir = directory / "model"
    with pytest.MonkeyPatch.context() as patch, threadpool_limits(limits=1):
        patch.setenv("SM_MODEL_DIR", str(model_dir))
        patch.delenv("SM_OUTPUT_DATA_DIR", raising=False)
        contract.write_model(fit(reviews, reviews.iloc[:0], HYPERPARAMETERS), {}, pd.DataFrame({"prediction": ["x"]}),
                             {"model": "sentiment"})
    healthy, failing = directory / "model.tar.gz", directory / "failing.tar.gz"
    with tarfile.open(healthy, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    inject_faults(healthy, failing, {"error_rate": 0.5})
    return {"healthy": healthy, "failing": failing}


def _deploy(platform, archives, weights: dict[str, tuple[str, float]]):
    """Registers the archives and deploys ``variant -> (archive, weight)`` on the model's endpoint."""
    versions = {}
    for name, archive in archives.items():
        key = f"training/sentiment/{name}/output/model.tar.gz"
        platform.store.upload_file(archive, key)
        versions[name] = platform.registry.register("sentiment", key, status=APPROVED, metrics={}, lineage={},
                                                    reason="traffic test", idempotency_key=name)
    platform.endpoints.deploy(SPEC.endpoint_name, [
        ProductionVariant(variant, "sentiment", versions[name].version, versions[name].artifact_uri, weight)
        for variant, (name, weight) in weights.items()
    ])
    return platform


@pytest.fixture
def ninety_ten(platform, archives):
    return _deploy(platform, archives, {"champion": ("healthy", 90.0), "challenger": ("healthy", 10.0)})


def _captured(platform) -> dict[str, list]:
    """Parsed capture records per variant of the sentiment endpoint."""
    records: dict[str, list] = {}
    for key in platform.store.list_keys(f"datacapture/{SPEC.endpoint_name}/"):
        lines = platform.store.read_bytes(key).decode().splitlines()
        records.setdefault(key.split("/")[2], []).extend(parse_record(line) for line in lines if line.strip())
    return records


def _invocations(platform, variant: str) -> float:
    now = datetime.now(UTC)
    dims = {"EndpointName": SPEC.endpoint_name, "VariantName": variant}
    return sum(d.value for d in platform.metrics.query("AWS/SageMaker", "Invocations", dims,
                                                        now - timedelta(hours=1), now + timedelta(hours=1)))


def test_every_request_is_served_by_a_variant_and_captured(ninety_ten):
    """50 requests a second for 2 s at weights 90/10: the 10 % variant serves at least one
    of the 100 (missing it entirely has probability 0.9 ** 100, about 3e-5)."""
    report = generate_traffic(ninety_ten, SPEC, rps=50, duration_s=2)
    assert report.sent == 100
    assert (report.served, report.errors, report.lost) == (100, 0, 0)
    assert set(report.per_variant) == {"champion", "challenger"}
    captured = _captured(ninety_ten)
    assert {v: len(r) for v, r in captured.items()} == report.per_variant
    ids = [r.inference_id for records in captured.values() for r in records]
    assert len(set(ids)) == 100  # each request has its own inference id
    for variant, served in report.per_variant.items():  # and the metrics are flushed
        assert _invocations(ninety_ten, variant) == served


def test_a_failing_variant_records_errors_and_loses_nothing(platform, archives):
    _deploy(platform, archives, {"champion": ("healthy", 50.0), "challenger": ("failing", 50.0)})
    report = generate_traffic(platform, SPEC, rps=50, duration_s=2)
    assert report.sent == report.served + report.errors == 100
    assert report.lost == 0
    assert report.errors > 0
    assert report.per_variant["champion"] > 0 and report.per_variant["challenger"] > 0
    (message,) = report.error_messages  # one cause, however many requests it hit
    assert "variant challenger" in message and "fault injection" in message
    assert report.error_messages[message] == report.errors
    # failed requests are not captured; every served one is
    assert {v: len(r) for v, r in _captured(platform).items()} == report.per_variant
    summary = report.summary()
    assert (summary["sent"], summary["served"], summary["errors"], summary["lost"]) == (
        100, report.served, report.errors, 0)


class _FakeClock:
    """A monotonic clock that moves only when the generator waits, plus a fixed cost for
    the work around each request; the stop event never fires."""

    def __init__(self, work_s: float):
        self.now, self.work_s, self.sent_at = 0.0, work_s, []

    def monotonic(self) -> float:
        return self.now

    def wait(self, timeout: float) -> bool:
        self.now += timeout
        self.sent_at.append(self.now)
        self.now += self.work_s
        return False


def test_the_schedule_does_not_drift_with_the_work_between_requests(ninety_ten, monkeypatch):
    """Request i leaves at i / rps on the monotonic clock however long the work between two
    requests takes (here 13 ms of the 20 ms between them), instead of 20 + 13 ms apart."""
    clock = _FakeClock(work_s=0.013)
    monkeypatch.setattr(traffic.time, "monotonic", clock.monotonic)
    report = generate_traffic(ninety_ten, SPEC, rps=50, duration_s=2, stop=clock)
    assert report.sent == 100
    assert clock.sent_at == pytest.approx([i / 50 for i in range(100)])


def test_metrics_are_flushed_every_5_s_of_the_run_and_at_the_end(ninety_ten, monkeypatch):
    clock = _FakeClock(work_s=0.0)
    monkeypatch.setattr(traffic.time, "monotonic", clock.monotonic)
    flushed_at = []
    flush = ninety_ten.endpoints.flush

    def recorded_flush():
        flushed_at.append(clock.now)
        flush()

    monkeypatch.setattr(ninety_ten.endpoints, "flush", recorded_flush)
    generate_traffic(ninety_ten, SPEC, rps=5, duration_s=12, stop=clock)
    assert flushed_at[:2] == pytest.approx([5.0, 10.0])
    assert len(flushed_at) == 3  # and once more when every request has ended


def test_a_run_longer_than_the_request_pool_cycles_it_with_fresh_inference_ids(ninety_ten, monkeypatch):
    monkeypatch.setattr(traffic, "REQUEST_POOL", 7)
    report = generate_traffic(ninety_ten, SPEC, rps=50, duration_s=0.4, seed=3)
    assert report.sent == 20
    records = [r for records in _captured(ninety_ten).values() for r in records]
    assert len({r.request["text"] for r in records}) == 7
    assert len({r.inference_id for r in records}) == 20


def test_a_stop_that_is_already_set_sends_nothing(ninety_ten):
    stop = threading.Event()
    stop.set()
    report = generate_traffic(ninety_ten, SPEC, rps=50, duration_s=2, stop=stop)
    assert (report.sent, report.lost) == (0, 0)


@pytest.mark.parametrize("rps, duration", [(0, 2), (-1, 2), (10, 0)])
def test_a_rate_or_duration_that_is_not_positive_is_refused(platform, rps, duration):
    with pytest.raises(DataValidationError, match="rps > 0 and duration_s > 0"):
        generate_traffic(platform, SPEC, rps=rps, duration_s=duration)


def test_synthetic_recommendation_requests_honour_the_request_contract():
    requests = synthetic_requests(get_model("recommendation"), seed=0, day=DAY, count=5)
    assert len(requests) == 5
    for _, _, body in requests:
        assert len(request_rows(body)) == 20  # one row per candidate


# -- CLI ---------------------------------------------------------------------------------
def test_the_traffic_command_prints_the_summary(capsys, ninety_ten, home):
    code = traffic_main(["--home", str(home), "--endpoint", SPEC.endpoint_name, "--rps", "20", "--duration", "1",
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["endpoint"], summary["sent"], summary["served"], summary["lost"]) == (SPEC.endpoint_name, 20, 20, 0)
    assert sum(v["requests"] for v in summary["per_variant"].values()) == 20
    assert sum(len(records) for records in _captured(ninety_ten).values()) == 20


def test_the_traffic_command_on_an_unknown_endpoint_returns_2_naming_the_known_ones(capsys, tmp_path):
    code = traffic_main(["--home", str(tmp_path), "--endpoint", "no-such-endpoint", "--rps", "5", "--duration", "1"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "no-such-endpoint" in err
    for model in ("recommendation", "sentiment"):
        assert get_model(model).endpoint_name in err


def test_findining_mlops_traffic_names_the_dev_tool_with_the_same_arguments_and_exits_2(capsys):
    code = main(["traffic", "--endpoint", SPEC.endpoint_name, "--rps", "20", "--duration", "1"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert f"`python -m devtools.traffic --endpoint {SPEC.endpoint_name} --rps 20 --duration 1`" in err
