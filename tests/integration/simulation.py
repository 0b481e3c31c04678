"""A simulated production history for tests: bootstrap a model, replay the app's daily
traffic against its endpoint, and run the daily monitoring check on each day."""

from __future__ import annotations

import time
from datetime import date, timedelta

from findining_mlops import monitoring, retraining
from findining_mlops.catalog import ModelSpec
from findining_mlops.platform.ports import Platform
from findining_mlops.traffic import replay_day


def bootstrap(platform: Platform, spec: ModelSpec, end_day: date, job_name: str, reason: str = "bootstrap"):
    """What model_retraining does, in one synchronous call."""
    snapshot = retraining.snapshot_training_data(platform, spec, job_name, end_day)
    platform.training.start(retraining.training_spec(spec, snapshot))
    deadline = time.monotonic() + 300
    while platform.training.describe(job_name).status == "InProgress":
        assert time.monotonic() < deadline, f"training job {job_name} did not finish"
        time.sleep(0.2)
    job = retraining.check_finished(platform.training.describe(job_name))
    evaluation = retraining.evaluate_candidates(platform, spec, job, snapshot)
    gate = retraining.quality_gate(spec, evaluation)
    version = retraining.register(platform, spec, job, snapshot, evaluation, gate, reason, "test")
    retraining.store_baseline(platform, version)
    retraining.bootstrap_deploy(platform, spec, version)
    return version


def monitor_days(platform: Platform, spec: ModelSpec, first: date, days: int, replay: bool = True) -> list[dict]:
    decisions = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if replay:
            replay_day(platform, spec, day)
        analysis = monitoring.analyse_day(platform, spec, day)
        decisions.append(monitoring.decide(platform, spec, day, analysis))
    return decisions
