"""What a person plausibly mistypes, at every entry point: each `findining-mlops` command and
each DAG form. Every case ends in a message naming the problem, a non-zero exit (or a refused
trigger) and nothing written."""

from __future__ import annotations

import copy
import gc
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from devtools.traffic import main as traffic_main
from findining_mlops.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
RECOMMENDATION_ENDPOINT = "ai-restaurant-recommendation-recommendation-endpoint"
GOOD_CONFIG = {"alpha": 0.05, "control_share": 0.5,
               "success_metrics": {"recommendation_accuracy": {"kind": "binary", "direction": "higher_is_better"}}}


@pytest.fixture
def inputs(tmp_path, monkeypatch) -> Path:
    """Files a person might point the commands at, good and bad, and a local backend's home."""
    monkeypatch.setenv("FINDINING_BACKEND", "local")
    monkeypatch.delenv("FINDINING_HOME", raising=False)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rating": rng.normal(4, 0.5, 200), "district": rng.choice(["Central", "Sha Tin"], 200)})
    frame.to_parquet(tmp_path / "frame.parquet")
    frame.iloc[:0].to_parquet(tmp_path / "no-rows.parquet")
    frame.drop(columns="district").to_parquet(tmp_path / "without-district.parquet")
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "notes.csv").write_text("rating,district\n4.5,Central\n")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(GOOD_CONFIG))
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "alpha-2.json").write_text(json.dumps({**GOOD_CONFIG, "alpha": 2}))
    from findining_mlops.platform.local import local_platform

    local_platform(tmp_path / "home")  # an existing, empty backend
    gc.collect()  # closes its SQLite connections, so the database is settled before the snapshot
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file with its size and time of change, every folder; SQLite's companions of an open database
    (``-wal``, ``-shm``) come and go with a mere read, so they are left out."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else "folder"
            for p in sorted(root.rglob("*")) if not p.name.endswith(("-wal", "-shm"))}


HOME = ["--home", "{tmp}/home"]
NEW_HOME = ["--home", "{tmp}/new-home"]
GENERATE = ["generate-data", *NEW_HOME, "--start", "2026-10-01", "--days", "2"]
DRIFT = ["drift", "--reference", "{tmp}/frame.parquet", "--current", "{tmp}/frame.parquet"]
AB = ["abtest", "analyze", "--events", "{tmp}/frame.parquet", "--config", "{tmp}/config.json"]
TRAFFIC = [*HOME, "--endpoint", RECOMMENDATION_ENDPOINT, "--rps", "5", "--duration", "1"]


def _with(command: list[str], option: str, value: str) -> list[str]:
    """``command`` with ``option`` set to ``value`` (replaced when present, else added)."""
    if option in command:
        at = command.index(option)
        return [*command[:at + 1], value, *command[at + 2:]]
    return [*command, option, value]


CLI_CASES = [
    # generate-data
    (_with(GENERATE, "--days", "-3"), "--days: -3 is less than 1"),
    (_with(GENERATE, "--days", "0"), "--days: 0 is less than 1"),
    (_with(GENERATE, "--days", "three"), "'three' is not a whole number"),
    (_with(GENERATE, "--start", "2026-13-01"), "'2026-13-01' is not a date"),
    (_with(GENERATE, "--start", "yesterday"), "'yesterday' is not a date"),
    (_with(GENERATE, "--seed", "-1"), "--seed: -1 is less than 0"),
    (_with(GENERATE, "--seed", "1.5"), "'1.5' is not a whole number"),
    (_with(GENERATE, "--scenario", "typhoon"), "unknown scenario 'typhoon'"),
    (_with(GENERATE, "--scenario", "new-district"), "needs a start date"),
    (_with(_with(GENERATE, "--scenario", "new-district"), "--scenario-start", "01/10/2026"), "is not a date"),
    (_with(GENERATE, "--requests-per-day", "-100"), "--requests-per-day: -100 is less than 1"),
    (_with(GENERATE, "--reviews-per-day", "0"), "--reviews-per-day: 0 is less than 1"),
    (_with(GENERATE, "--home", "{tmp}/notes.csv"), "is a file, not a directory"),
    # registry, endpoints, abtest
    (["registry", "list", *HOME, "--model", "pizza"], "unknown model 'pizza'"),
    (["registry", "list", "--home", "{tmp}/nowhere"], "there is no local backend at"),
    (["endpoints", "describe", "no-such-endpoint", *HOME], "endpoint no-such-endpoint does not exist"),
    (["endpoints", "describe", "--home", "{tmp}/nowhere"], "there is no local backend at"),
    (["abtest", "list", *HOME, "--status", "finished"], "invalid choice: 'finished'"),
    (["abtest", "show", "no-such-test", *HOME], "there is no A/B test 'no-such-test'"),
    (["abtest", "show", "some-test", "--home", "{tmp}/notes.csv"], "is a file, not a directory"),
    # drift
    (_with(DRIFT, "--reference", "{tmp}/missing.parquet"), "missing.parquet does not exist"),
    (_with(DRIFT, "--reference", "{tmp}/a-folder"), "a-folder is a directory, not a file"),
    (_with(DRIFT, "--reference", "{tmp}/empty.parquet"), "empty.parquet is not a readable parquet file"),
    (_with(DRIFT, "--current", "{tmp}/notes.csv"), "notes.csv is not a readable parquet file"),
    (_with(DRIFT, "--current", "{tmp}/no-rows.parquet"), "the current frame is empty"),
    (_with(DRIFT, "--current", "{tmp}/without-district.parquet"), "no column 'district' of the reference"),
    (_with(DRIFT, "--numerical", "stars"), "no column 'stars'"),
    (_with(DRIFT, "--numerical", ","), "expected comma-separated column names"),
    (_with(_with(DRIFT, "--numerical", "rating"), "--categorical", "rating"), "both numerical and categorical"),
    (_with(_with(DRIFT, "--html", "{tmp}/report.html"), "--sample-size", "-5"), "--sample-size: -5 is less than 1"),
    (_with(DRIFT, "--sample-size", "ten"), "'ten' is not a whole number"),
    (_with(DRIFT, "--json", "{tmp}/a-folder"), "a-folder is a directory; name a file in it"),
    (_with(DRIFT, "--json", "{tmp}/no-folder/drift.json"), "no-folder of"),
    (_with(DRIFT, "--html", "{tmp}/a-folder"), "a-folder is a directory; name a file in it"),
    # abtest analyze
    (_with(AB, "--events", "{tmp}/missing.parquet"), "missing.parquet does not exist"),
    (_with(AB, "--events", "{tmp}/a-folder"), "a-folder is a directory, not a file"),
    (_with(AB, "--events", "{tmp}/notes.csv"), "notes.csv is not a readable parquet file"),
    (_with(AB, "--events", "{tmp}/empty.parquet"), "empty.parquet is not a readable parquet file"),
    (AB, "user_id"),  # a parquet file that holds no A/B events
    (_with(AB, "--config", "{tmp}/missing.json"), "missing.json does not exist"),
    (_with(AB, "--config", "{tmp}/notes.csv"), "is not valid JSON"),
    (_with(AB, "--config", "{tmp}/empty.json"), "is not valid JSON"),
    (_with(AB, "--config", "{tmp}/alpha-2.json"), "alpha must be a number strictly between 0 and 1"),
    (_with(AB, "--json", "{tmp}/a-folder"), "a-folder is a directory; name a file in it"),
]
# python -m devtools.traffic
TRAFFIC_CASES = [
    (_with(TRAFFIC, "--endpoint", "no-such-endpoint"), "no model in the catalog is served by endpoint"),
    (_with(TRAFFIC, "--rps", "-5"), "--rps: -5 is not a positive number"),
    (_with(TRAFFIC, "--rps", "0"), "--rps: 0 is not a positive number"),
    (_with(TRAFFIC, "--rps", "fast"), "'fast' is not a number"),
    (_with(TRAFFIC, "--duration", "-1"), "--duration: -1 is not a positive number"),
    (_with(TRAFFIC, "--duration", "inf"), "--duration: inf is not a positive number"),
    (_with(TRAFFIC, "--seed", "-2"), "--seed: -2 is less than 0"),
    (_with(TRAFFIC, "--home", "{tmp}/nowhere"), "there is no local backend at"),
]


COMMANDS = {"findining-mlops": main, "devtools.traffic": traffic_main}
CASES = [("findining-mlops", a, m) for a, m in CLI_CASES] + [("devtools.traffic", a, m) for a, m in TRAFFIC_CASES]


@pytest.mark.parametrize("command, argv, message", CASES, ids=[f"{c} {' '.join(a[:3])} | {m}" for c, a, m in CASES])
def test_a_malformed_command_is_refused_with_a_message_and_writes_nothing(inputs, capsys, command, argv, message):
    argv = [arg.format(tmp=inputs) for arg in argv]
    before = _snapshot(inputs)
    try:
        code = COMMANDS[command](argv)
    except SystemExit as exc:  # refused by the argument parser
        code = exc.code
    out, err = capsys.readouterr()

    assert code not in (0, None)
    assert message in err, err
    assert "Traceback" not in err
    assert _snapshot(inputs) == before


# -- DAG forms: a bad trigger is refused by the form's Params, before any task runs ------------
FORM_CASES = [
    ("model_retraining", {"model_name": "pizza"}),
    ("model_retraining", {"reason": ""}),
    ("model_retraining", {"reason": "   "}),
    ("model_retraining", {"data_end_date": "2026-13-45"}),
    ("model_retraining", {"data_end_date": "last friday"}),
    ("model_retraining", {"training_window_days": 2}),
    ("model_retraining", {"training_window_days": -7}),
    ("model_retraining", {"training_window_days": "thirty"}),
    ("model_deployment", {"model_name": "pizza"}),
    ("model_deployment", {"version": 0}),
    ("model_deployment", {"version": -1}),
    ("model_deployment", {"version": "not a label"}),  # a label is refused by name later, when unknown
    ("model_deployment", {"strategy": "blue-green"}),
    ("model_deployment", {"canary_percent": 0}),
    ("model_deployment", {"canary_percent": 75}),
    ("model_deployment", {"ramp": []}),
    ("model_deployment", {"ramp": [0, 100]}),
    ("model_deployment", {"ramp": [10, 150]}),
    ("model_deployment", {"ramp": "10,50,100"}),
    ("model_deployment", {"bake_minutes": -5}),
    ("model_deployment", {"bake_minutes": "ten"}),
    ("model_deployment", {"thresholds": "fast"}),
    # a threshold that switches its alarm off, a misspelt one, a negative latency; one step of a whole day
    # cannot end within the bake's 24 h timeout
    ("model_deployment", {"thresholds": {"max_error_rate": 1}}),
    ("model_deployment", {"thresholds": {"max_eror_rate": 0.01}}),
    ("model_deployment", {"thresholds": {"max_model_latency_ms": -5}}),
    ("model_deployment", {"bake_minutes": 1440}),
    ("ab_test", {"test_name": ""}),
    ("ab_test", {"test_name": "  "}),
    ("ab_test", {"model_name": "pizza"}),
    ("ab_test", {"control_version": 0}),
    ("ab_test", {"treatment_version": ""}),
    ("ab_test", {"traffic_split": 0}),
    ("ab_test", {"traffic_split": 100}),
    ("ab_test", {"traffic_split": -50}),
    ("ab_test", {"duration_days": 0}),
    ("ab_test", {"duration_days": 365}),
    ("ab_test", {"success_metrics": []}),
    ("ab_test", {"success_metrics": ["clicks"]}),
    ("ab_test", {"success_metrics": "recommendation_accuracy"}),
    ("ab_test", {"guardrail_metrics": ["clicks"]}),
    ("ab_test", {"alpha": 0}),
    ("ab_test", {"alpha": 0.5}),
    ("ab_test", {"start_date": "next monday"}),
]


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.mark.parametrize("dag_id, conf", FORM_CASES, ids=[f"{d} {json.dumps(c)}" for d, c in FORM_CASES])
def test_a_malformed_form_is_refused_before_any_task_runs(dags, dag_id, conf):
    """The check a trigger runs before it creates the DAG run: the form's Params with the conf laid over."""
    from airflow.sdk.exceptions import ParamValidationError

    (name,) = conf
    params = copy.deepcopy(dags[dag_id].params)
    with pytest.raises(ParamValidationError, match=f"param {name}"):
        params.update(conf)
        params.validate()


def test_the_forms_defaults_are_valid(dags):
    for dag_id in ("model_retraining", "model_deployment", "ab_test"):
        copy.deepcopy(dags[dag_id].params).validate()


def test_a_ramp_that_outlasts_the_bake_timeout_is_refused_by_the_plan_task(dags, airflow_db, platform, home):
    """Each figure is within the form's bounds, but three steps of 1000 minutes cannot end within
    the bake's 24 h timeout: the run's first task refuses it, before the endpoint changes."""
    run = dags["model_deployment"].test(run_conf={"model_name": "sentiment", "ramp": [10, 50, 100],
                                                  "bake_minutes": 1000})

    assert run.state == "failed"
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["start"] == "upstream_failed"
    # the run's failure alert names the figures
    assert "3 ramp step(s) x bake_minutes 1000" in (home / "alerts.log").read_text()
    assert platform.endpoints.describe("ai-restaurant-recommendation-sentiment-endpoint") is None
