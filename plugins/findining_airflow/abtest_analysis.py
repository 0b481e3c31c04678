"""The A/B analysis task: one test analysed up to a day on the configured engine (DuckDB over the store
by default, Amazon Athena on request), a decided test announced then finished, and the deployment that
carries its result."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import TYPE_CHECKING

from findining_airflow.errors import fail_fast
from findining_airflow.hooks.athena import AthenaQueries
from findining_airflow.notifications import ab_test_finished
from findining_airflow.runtime import platform, settings
from findining_mlops.config.settings import AwsSettings

if TYPE_CHECKING:
    from findining_airflow.authoring import DeploymentRequest
    from findining_mlops.abtest.lifecycle import MomentsSource

log = logging.getLogger(__name__)


def moments_source(aws: AwsSettings | None) -> MomentsSource | None:
    """The engine's ``lifecycle.MomentsSource``: Athena's when the ``aws`` backend asks for it, else ``None``,
    the domain's default (DuckDB)."""
    return AthenaQueries(aws).moments if aws is not None and aws.ab_engine == "athena" else None


def analyze_and_finish(test_id: str, day: date) -> DeploymentRequest:
    """The analysis of one test up to ``day``; a test decided by it is announced, then finished (its endpoint
    freed). Returns the ``model_deployment`` request that carries the test's result (its conf ``None`` while the
    test runs on), keyed on the test so that a re-run never deploys twice."""
    from findining_mlops.abtest import lifecycle
    from findining_mlops.platform.ports import RUNNING

    with fail_fast():
        test = platform().abtests.get(test_id)
        summary = lifecycle.analyze_day(platform(), test, day, moments_source(settings().aws))
    log.info("%s", json.dumps(summary, indent=2))
    if summary["outcome"] != RUNNING and test.status == RUNNING:
        # alert first: a retry may send the message twice but never loses it
        ab_test_finished(test, summary)
        lifecycle.finish(platform(), test, summary)
    return {"trigger_run_id": f"abtest__{test.test_id}", "conf": lifecycle.deployment_conf(test, summary)}
