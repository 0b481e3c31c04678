"""The aspect model is a catalog model like the other two: trained and registered by the
retraining pipeline (the session fixture), served on its endpoint, monitored from data
capture against the day's labelled feedback, and its uploads smoke-checked."""

from __future__ import annotations

import hashlib
from datetime import date

from devtools.traffic import replay_day
from findining_mlops.config.catalog import get_model, model_names
from findining_mlops.monitoring import analysis as monitoring
from findining_mlops.monitoring.decision import CHECKED
from findining_mlops.training import uploads as artifacts

DAY = date(2026, 10, 13)  # not in the training window


def test_the_catalog_has_the_aspect_model_with_its_own_endpoint():
    assert "aspects" in model_names()
    spec = get_model("aspects")
    assert spec.dataset == "feedback" and spec.endpoint_name == "ai-restaurant-recommendation-aspects-endpoint"


def test_the_registered_version_records_macro_f1_per_language(feedback_platform):
    version = feedback_platform.registry.latest("aspects")
    assert version.version == 1 and version.status == "Approved"
    assert version.metrics["macro_f1"] >= 0.8
    assert version.metrics["macro_f1_en"] >= 0.8 and version.metrics["macro_f1_yue"] >= 0.8


def test_replayed_traffic_is_monitored_for_drift_and_scored_against_the_labels(feedback_platform):
    spec = get_model("aspects")
    report = replay_day(feedback_platform, spec, DAY)
    assert report.sent == 100 and report.errors == 0
    summary = monitoring.analyze_day(feedback_platform, spec, DAY)
    assert summary["outcome"] == CHECKED
    assert summary["dataset_drift"] is False
    assert summary["performance"] >= 0.8


def test_an_uploaded_aspect_model_passes_the_smoke_check(feedback_platform):
    live = feedback_platform.registry.latest("aspects")
    data = feedback_platform.store.read_bytes(live.artifact_key)
    key = "models/aspects/2.0.0/model.tar.gz"
    feedback_platform.store.write_bytes(key, data)
    upload = artifacts.Upload(key, "aspects", "2.0.0", hashlib.sha256(data).hexdigest())
    checked = artifacts.validate_upload(feedback_platform, upload)
    assert checked["smoke_response"]["top"] in ("none", *checked["smoke_response"]["scores"])
