"""DAG run status alerts: failures always reach the alerts topic; a success only for the DAGs
named in ``FINDINING_ALERT_ON_SUCCESS``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from simulation import load_dag, read_alerts

pytestmark = pytest.mark.slow
WHEN = datetime(2026, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize("setting, announced", [("", False), ("model_monitoring", False),
                                                ("ab_test_analysis, model_monitoring", True), ("all", True)])
def test_a_successful_run_is_announced_only_where_configured(airflow_db, platform, home, monkeypatch, setting,
                                                              announced):
    monkeypatch.setenv("FINDINING_ALERT_ON_SUCCESS", setting)
    # a day without running A/B tests: the run succeeds and changes nothing
    run = load_dag("ab_test_analysis").test(logical_date=WHEN, run_after=WHEN)
    assert run.state == "success"
    alerts = read_alerts(home)
    assert [a["Subject"] for a in alerts] == (["[Find Dining MLOps] ab_test_analysis succeeded"] if announced else [])
    if announced:
        assert f"Run: {run.run_id}" in alerts[0]["Message"] and "State: succeeded" in alerts[0]["Message"]
