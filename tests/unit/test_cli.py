"""The ``findining-mlops`` command line: synthetic data into the store, registry and
endpoint listings as JSON, and errors that name what is wrong."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from datetime import date
from pathlib import Path

import pytest

from findining_mlops.cli.main import main
from findining_mlops.platform.local import local_platform
from findining_mlops.platform.ports import APPROVED, ProductionVariant

ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def sentiment_artifact(tmp_path_factory) -> bytes:
    """A small sentiment model.tar.gz made with the model's own fit and the training contract."""
    import pandas as pd

    from findining_mlops.data.synthetic import ScenarioPlan, World
    from findining_mlops.models import contract
    from findining_mlops.models.sentiment.train import HYPERPARAMETERS, fit

    reviews = World(seed=2).reviews(date(2026, 10, 1), 60, ScenarioPlan())
    model = fit(reviews, reviews.iloc[:0], HYPERPARAMETERS)
    model_dir = tmp_path_factory.mktemp("model")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_MODEL_DIR", str(model_dir))
        patch.delenv("SM_OUTPUT_DATA_DIR", raising=False)
        contract.write_model(model, {"macro_f1": 0.9}, pd.DataFrame({"prediction": ["positive"]}),
                             {"model": "sentiment"})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


def _register(home: Path, artifact: bytes, status: str = APPROVED):
    platform = local_platform(home)
    platform.store.write_bytes("training/sentiment/job-1/output/model.tar.gz", artifact)
    version = platform.registry.register(
        "sentiment", "training/sentiment/job-1/output/model.tar.gz", status=status, metrics={"macro_f1": 0.9},
        lineage={"training_job": "job-1"}, reason="cli test", idempotency_key="job-1",
    )
    return platform, version


# -- generate-data -----------------------------------------------------------------------
def test_generate_data_writes_daily_partitions_of_both_datasets(capsys, tmp_path):
    code, out, err = _run(capsys, "generate-data", "--home", str(tmp_path), "--start", "2026-10-01", "--days", "2",
                          "--seed", "1", "--requests-per-day", "20", "--reviews-per-day", "20")
    assert code == 0, err
    store = tmp_path / "store"
    for dataset in ("interactions", "reviews"):
        for day in ("2026-10-01", "2026-10-02"):
            assert (store / f"data/{dataset}/dt={day}/part-0.parquet").is_file()
    assert not (store / "data/interactions/dt=2026-10-03").exists()
    summary = json.loads(out)
    assert summary["days"] == 2
    assert summary["interaction_rows"] == 2 * 20 * 20  # 20 candidates per request
    assert summary["reviews"] == 2 * 20
    assert summary["store"] == (store / "data").resolve().as_uri()
    assert "2026-10-01" in err and "2026-10-02" in err  # progress goes to stderr


def test_home_may_come_before_the_command(capsys, tmp_path):
    code, _, err = _run(capsys, "--home", str(tmp_path), "generate-data", "--start", "2026-10-01", "--days", "1",
                        "--requests-per-day", "5", "--reviews-per-day", "5")
    assert code == 0, err
    assert (tmp_path / "store/data/reviews/dt=2026-10-01/part-0.parquet").is_file()


def test_without_home_the_cli_uses_findining_home(capsys, home):
    code, _, err = _run(capsys, "generate-data", "--start", "2026-10-01", "--days", "1",
                        "--requests-per-day", "5", "--reviews-per-day", "5")
    assert code == 0, err
    assert (home / "store/data/interactions/dt=2026-10-01/part-0.parquet").is_file()


def test_a_start_that_is_not_a_date_is_an_argparse_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate-data", "--home", str(tmp_path), "--start", "notadate", "--days", "2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "'notadate' is not a date in YYYY-MM-DD form" in err
    assert not (tmp_path / "store").exists()


def test_an_unknown_scenario_returns_2_naming_it(capsys, tmp_path):
    code, out, err = _run(capsys, "generate-data", "--home", str(tmp_path), "--start", "2026-10-01", "--days", "2",
                          "--scenario", "weather")
    assert code == 2
    assert "unknown scenario 'weather'" in err
    assert err.startswith("findining-mlops: error:")
    assert out == ""
    assert not (tmp_path / "store/data").exists()


def test_a_scenario_without_a_start_date_returns_2(capsys, tmp_path):
    code, _, err = _run(capsys, "generate-data", "--home", str(tmp_path), "--start", "2026-10-01", "--days", "2",
                        "--scenario", "taste-shift")
    assert code == 2
    assert "--scenario-start" in err


def test_zero_days_returns_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:  # refused by the parser, before the store is touched
        main(["generate-data", "--home", str(tmp_path), "--start", "2026-10-01", "--days", "0"])
    assert exit_info.value.code == 2
    assert "--days: 0 is less than 1" in capsys.readouterr().err


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


# -- registry list -----------------------------------------------------------------------
def test_registry_list_of_an_empty_registry_is_an_empty_json_list(capsys, tmp_path):
    code, out, _ = _run(capsys, "registry", "list", "--home", str(tmp_path), "--json")
    assert code == 0
    assert json.loads(out) == []


def test_registry_list_shows_each_version_with_status_metrics_and_lineage(capsys, tmp_path, sentiment_artifact):
    _, version = _register(tmp_path, sentiment_artifact)
    code, out, _ = _run(capsys, "registry", "list", "--home", str(tmp_path), "--json")
    assert code == 0
    (item,) = json.loads(out)
    assert {"model", "version", "status", "metrics", "artifact_uri", "created_at", "lineage"} <= set(item)
    assert (item["model"], item["version"], item["status"]) == ("sentiment", 1, APPROVED)
    assert item["metrics"] == {"macro_f1": 0.9}
    assert item["lineage"] == {"training_job": "job-1"}
    assert item["artifact_uri"] == version.artifact_uri
    assert item["artifact_uri"].endswith("/store/models/sentiment/1/model.tar.gz")
    assert item["created_at"] == version.created_at


def test_registry_list_filters_by_model_and_prints_a_table_without_json(capsys, tmp_path, sentiment_artifact):
    _register(tmp_path, sentiment_artifact)
    code, out, _ = _run(capsys, "registry", "list", "--home", str(tmp_path), "--model", "recommendation", "--json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = _run(capsys, "registry", "list", "--home", str(tmp_path))
    assert code == 0
    (line,) = out.splitlines()
    assert line.split()[:3] == ["sentiment", "v1", APPROVED]


# -- endpoints describe ------------------------------------------------------------------
def test_endpoints_describe_without_endpoints_is_an_empty_json_list(capsys, tmp_path):
    code, out, _ = _run(capsys, "endpoints", "describe", "--home", str(tmp_path), "--json")
    assert (code, json.loads(out)) == (0, [])


def test_endpoints_describe_lists_variants_with_model_version_and_weight(capsys, tmp_path, sentiment_artifact):
    platform, version = _register(tmp_path, sentiment_artifact)
    platform.endpoints.deploy(ENDPOINT, [
        ProductionVariant("sentiment-v1", "sentiment", 1, version.artifact_uri, 3.0),
        ProductionVariant("sentiment-v1-shadow", "sentiment", 1, version.artifact_uri, 1.0),
    ])
    code, out, _ = _run(capsys, "endpoints", "describe", "--home", str(tmp_path), "--json")
    assert code == 0
    (endpoint,) = json.loads(out)
    assert (endpoint["endpoint"], endpoint["status"]) == (ENDPOINT, "InService")
    assert [(v["variant"], v["model"], v["version"], v["weight"], v["traffic_percent"])
            for v in endpoint["variants"]] == [
        ("sentiment-v1", "sentiment", 1, 3.0, 75.0),
        ("sentiment-v1-shadow", "sentiment", 1, 1.0, 25.0),
    ]
    # by name, as text
    code, out, _ = _run(capsys, "endpoints", "describe", ENDPOINT, "--home", str(tmp_path))
    assert code == 0
    assert out.splitlines()[0].startswith(f"{ENDPOINT} (InService, config ")
    assert "75.00 %" in out and "25.00 %" in out


def test_describing_an_endpoint_that_does_not_exist_returns_2(capsys, tmp_path):
    code, out, err = _run(capsys, "endpoints", "describe", "no-such-endpoint", "--home", str(tmp_path), "--json")
    assert code == 2
    assert "endpoint no-such-endpoint does not exist" in err
    assert out == ""


# -- console script ----------------------------------------------------------------------
def test_the_installed_console_script_runs():
    script = Path(sys.executable).parent / "findining-mlops"
    assert script.is_file(), f"{script} is not installed; run make setup"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for command in ("generate-data", "registry", "endpoints"):
        assert command in result.stdout


def test_abtest_list_and_show_read_the_abtests_store(capsys, tmp_path):
    from findining_mlops.platform.ports import ABTest

    home = tmp_path / "h"
    test = ABTest("t-1", "v1 vs v2", "sentiment", "ep", 1, 2, "sentiment-v1", "sentiment-v2", 30, 14,
                  {"sentiment_accuracy": {"kind": "binary", "direction": "higher_is_better"}}, {}, 0.05, "2026-11-01")
    local_platform(home).abtests.create(test)
    code, out, _ = _run(capsys, "abtest", "list", "--home", str(home))
    assert code == 0 and "t-1" in out and "running" in out and "30 % treatment" in out
    code, out, _ = _run(capsys, "abtest", "list", "--status", "concluded", "--json", "--home", str(home))
    assert code == 0 and json.loads(out) == []
    code, out, _ = _run(capsys, "abtest", "show", "t-1", "--home", str(home))
    assert code == 0 and json.loads(out) == {"test": test.to_dict(), "daily_analyses": []}
    code, _, err = _run(capsys, "abtest", "show", "nope", "--home", str(home))
    assert code == 2 and "no A/B test 'nope'" in err


def test_the_earlier_abtest_command_names_still_run_and_say_the_current_ones(capsys, tmp_path):
    home = tmp_path / "h"
    local_platform(home)
    code, out, err = _run(capsys, "abtests", "list", "--json", "--home", str(home))
    assert code == 0 and json.loads(out) == []
    assert "`abtests list` is `findining-mlops abtest list`" in err
    code, _, err = _run(capsys, "abtests", "show", "nope", "--home", str(home))
    assert code == 2 and "`abtests show` is `findining-mlops abtest show`" in err
    with pytest.raises(SystemExit) as refused:  # the same arguments as `abtest analyze`, checked alike
        main(["ab-analyze", "--events", str(tmp_path / "e.parquet"), "--config", str(tmp_path)])
    assert refused.value.code == 2 and "does not exist" in capsys.readouterr().err


def test_served_and_tested_versions_are_named_by_number_and_label(capsys, tmp_path, sentiment_artifact):
    """A person reading the CLI sees both names of a version, ``v2 (1.1.0)``: the endpoint's
    variants, the health check and the A/B tests."""
    from findining_mlops.platform.ports import ABTest

    platform = local_platform(tmp_path)
    versions = []
    for job, label in (("upload-1", "1.0.0"), ("upload-2", "1.1.0")):
        platform.store.write_bytes(f"uploads/{job}/model.tar.gz", sentiment_artifact)
        versions.append(platform.registry.register(
            "sentiment", f"uploads/{job}/model.tar.gz", status=APPROVED, metrics={"macro_f1": 0.9}, lineage={},
            reason="cli test", idempotency_key=job, label=label))
    platform.endpoints.deploy(ENDPOINT, [
        ProductionVariant("sentiment-v1", "sentiment", 1, versions[0].artifact_uri, 9.0),
        ProductionVariant("sentiment-v2", "sentiment", 2, versions[1].artifact_uri, 1.0),
    ])
    platform.abtests.create(ABTest(
        "t-1", "labels", "sentiment", ENDPOINT, 1, 2, "sentiment-v1", "sentiment-v2", 10, 14,
        {"sentiment_accuracy": {"kind": "binary", "direction": "higher_is_better"}}, {}, 0.05, "2026-11-01"))

    code, out, _ = _run(capsys, "endpoints", "describe", ENDPOINT, "--home", str(tmp_path))
    assert code == 0
    assert [line.split()[:4] for line in out.splitlines()[1:]] == [
        ["sentiment-v1", "sentiment", "v1", "(1.0.0)"], ["sentiment-v2", "sentiment", "v2", "(1.1.0)"]]
    code, out, _ = _run(capsys, "abtest", "list", "--home", str(tmp_path))
    assert code == 0 and "sentiment v1 (1.0.0) vs v2 (1.1.0) (10 % treatment)" in out
    code, out, _ = _run(capsys, "health", "--home", str(tmp_path))
    assert code == 1  # the other models have no endpoint
    assert "sentiment-v2" in out and "v2 (1.1.0)" in out
    code, out, _ = _run(capsys, "health", "--json", "--home", str(tmp_path))
    assert [(v["version"], v["label"], v["display"]) for v in json.loads(out)["sentiment"]["variants"]] == [
        (1, "1.0.0", "v1 (1.0.0)"), (2, "1.1.0", "v2 (1.1.0)")]
