"""Version labels on the local backend: an upload keeps its folder's name, a retrain gets
the next label of the model's scheme, a label names one version, and a person may name a
version by either."""

from __future__ import annotations

import json

import pytest

from findining_mlops.errors import RegistryError
from findining_mlops.platform.local.db import StateDB
from findining_mlops.platform.ports import APPROVED
from findining_mlops.registry import versions


def register(platform, job: str, label: str | None = None, model: str = "sentiment"):
    key = f"training/{model}/{job}/output/model.tar.gz"
    platform.store.write_bytes(key, job.encode())
    return platform.registry.register(model, key, status=APPROVED, metrics={}, lineage={}, reason="test",
                                      idempotency_key=job, label=label)


def test_labels_round_trip_and_retrains_bump_the_minor_version(platform):
    uploaded = register(platform, "upload-1", "1.0.0")
    retrained = register(platform, "job-2")
    again = register(platform, "job-3")

    assert [(v.version, v.label) for v in platform.registry.list_versions("sentiment")] == [
        (1, "1.0.0"), (2, "1.1.0"), (3, "1.2.0")]
    assert platform.registry.get("sentiment", 2) == retrained
    assert (uploaded.display, again.to_dict()["label"]) == ("v1 (1.0.0)", "1.2.0")


def test_the_first_retrained_version_is_1_0_0_and_the_bump_is_configurable(platform, tmp_path, monkeypatch):
    catalog = tmp_path / "models.toml"
    from findining_mlops.config.catalog import DEFAULT_CATALOG
    catalog.write_text(DEFAULT_CATALOG.read_text().replace('retrain_bump = "minor"', 'retrain_bump = "patch"'))
    monkeypatch.setenv("FINDINING_MODELS_CONFIG", str(catalog))

    assert [register(platform, job).label for job in ("job-1", "job-2")] == ["1.0.0", "1.0.1"]
    assert register(platform, "upload-3", "2.0.0").label == "2.0.0"
    assert register(platform, "job-4").label == "2.0.1"


def test_a_label_names_one_version_per_model(platform):
    register(platform, "upload-1", "1.1.0")
    with pytest.raises(RegistryError, match=r"v1 already has that label.*the registry was not changed"):
        register(platform, "upload-2", "1.1.0")
    assert [v.version for v in platform.registry.list_versions("sentiment")] == [1]
    assert platform.store.list_keys("models/sentiment/2/") == []
    assert register(platform, "upload-3", "1.1.0", model="recommendation").label == "1.1.0"  # another model's


def test_a_number_cannot_be_a_label(platform):
    with pytest.raises(RegistryError, match="not only digits"):
        register(platform, "upload-1", "7")


def test_resolve_takes_a_label_or_a_number_and_lists_the_known_ones_otherwise(platform):
    register(platform, "upload-1", "1.0.0")
    register(platform, "upload-2", "1.1.0")

    assert versions.resolve(platform.registry, "sentiment", "1.1.0").version == 2
    assert versions.resolve(platform.registry, "sentiment", 1).label == "1.0.0"
    assert versions.resolve(platform.registry, "sentiment", "2").label == "1.1.0"
    with pytest.raises(RegistryError, match=r"no version labelled '1\.2\.0'; its versions: v1 \(1\.0\.0\), "
                                            r"v2 \(1\.1\.0\)"):
        versions.resolve(platform.registry, "sentiment", "1.2.0")


def test_a_state_from_before_labels_gets_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE model_packages (model_name TEXT NOT NULL, version INTEGER NOT NULL, status TEXT, "
                     "artifact_key TEXT, metrics TEXT, lineage TEXT, reason TEXT, "
                     "status_note TEXT NOT NULL DEFAULT '', idempotency_key TEXT, created_at TEXT, "
                     "PRIMARY KEY (model_name, version))")
    with StateDB(path).reader() as conn:
        assert "label" in {row["name"] for row in conn.execute("PRAGMA table_info(model_packages)")}


def test_the_cli_shows_a_version_by_label_or_number_and_lists_both(platform, capsys):
    from findining_mlops.cli import main as cli

    register(platform, "upload-1", "1.1.0")
    assert cli.main(["registry", "show", "sentiment", "1.1.0"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1
    assert cli.main(["registry", "show", "sentiment", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "1.1.0"
    assert cli.main(["registry", "list"]) == 0
    assert capsys.readouterr().out.split()[:4] == ["sentiment", "v1", "Approved", "1.1.0"]
    assert cli.main(["registry", "show", "sentiment", "2.0.0"]) != 0
    assert "its versions: v1 (1.1.0)" in capsys.readouterr().err


def test_a_second_upload_of_a_label_with_other_bytes_is_refused_and_nothing_is_registered(platform):
    from findining_mlops.errors import DataValidationError
    from findining_mlops.training.uploads import Upload, find_uploads, validate_upload

    register(platform, "upload-1", "1.1.0")
    platform.store.write_bytes("models/sentiment/1.1.0/model.tar.gz", b"other bytes")
    (upload,) = find_uploads(platform)
    assert isinstance(upload, Upload) and upload.version == "1.1.0"

    with pytest.raises(DataValidationError, match=r"already has a version labelled 1\.1\.0, v1 \(1\.1\.0\) "
                                                  r"\(Approved\).*different bytes.*models/sentiment/1\.2\.0/"):
        validate_upload(platform, upload)
    assert [v.label for v in platform.registry.list_versions("sentiment")] == ["1.1.0"]


def test_messages_name_a_version_by_number_and_label_and_still_name_one_the_registry_lost(platform):
    register(platform, "upload-1", "1.0.0")
    register(platform, "job-2")
    names = versions.version_names(platform.registry, "sentiment")
    assert names[2] == "v2 (1.1.0)"
    assert names[9] == "v9"  # an alert never fails for a label
    assert names == {1: "v1 (1.0.0)", 2: "v2 (1.1.0)"}


def test_the_a_b_test_alert_names_both_arms_and_the_winner_by_number_and_label(platform):
    from findining_mlops.abtest import lifecycle
    from findining_mlops.platform.ports import ABTest

    register(platform, "upload-1", "1.0.0")
    register(platform, "upload-2", "1.1.0")
    test = ABTest("t-1", "labels", "sentiment", "ep", 1, 2, "sentiment-v1", "sentiment-v2", 50, 7,
                  {"sentiment_accuracy": {"kind": "binary", "direction": "higher_is_better"}}, {}, 0.05, "2026-11-01")
    summary = {"decision": "treatment_wins", "day_number": 7, "day": "2026-11-07", "users": {"control": 10},
               "srm": None, "metrics": {}, "winner": 2, "outcome": "concluded"}
    subject, message = lifecycle.result_message(test, summary, versions.version_names(platform.registry, "sentiment"))
    assert subject == "A/B test labels: treatment v2 (1.1.0) wins"
    assert "Next: sentiment v2 (1.1.0) goes to 100 % through model_deployment" in message
    figure = lifecycle.ci_figure(test, [], versions.version_names(platform.registry, "sentiment"))
    assert figure.layout.title.text.startswith("A/B test labels: v1 (1.0.0) (control) vs v2 (1.1.0) (treatment")


def test_a_new_version_gets_the_label_asked_for_or_the_next_of_its_scheme():
    taken = {"1.0.0": 1, "1.1.0": 2, "": 3}  # v3 was registered without a label
    assert versions.allocate_label("sentiment", None, taken) == "1.2.0"
    assert versions.allocate_label("sentiment", "2.0.0-rc1", taken) == "2.0.0-rc1"
    assert versions.allocate_label("sentiment", None, {}) == versions.FIRST_LABEL


def test_a_label_already_taken_is_refused_naming_the_version_that_has_it():
    with pytest.raises(RegistryError, match=r"cannot register sentiment 1\.1\.0: v2 already has that label"):
        versions.allocate_label("sentiment", "1.1.0", {"1.0.0": 1, "1.1.0": 2})
