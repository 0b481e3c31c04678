"""A ramp whose bake cannot end within the bake sensor's timeout is refused by ``plan`` before
anything is read or changed, naming the figures; the sensor and the form use the same timeout."""

from __future__ import annotations

import pytest

from findining_mlops.config.catalog import get_model
from findining_mlops.deployment import rollout as deployment
from findining_mlops.deployment.bake_time import BAKE_TIMEOUT, check_bake_fits, longest_bake_minutes
from findining_mlops.errors import DataValidationError, RegistryError


def test_the_longest_bake_leaves_room_for_every_endpoint_change():
    assert longest_bake_minutes(3) == 460  # (1440 - 4 changes x 15 min) / 3 steps
    assert longest_bake_minutes(1) == 1410
    check_bake_fits(3, 460)
    with pytest.raises(DataValidationError, match="use at most 460 bake_minutes for 3 step"):
        check_bake_fits(3, 460.5)


def test_plan_refuses_three_steps_of_a_day_each(platform):
    with pytest.raises(DataValidationError) as refused:
        deployment.plan(platform, get_model("sentiment"), None, "canary", 10, [10, 50, 100], 1440, "r-1")
    assert str(refused.value) == (
        "3 ramp step(s) x bake_minutes 1440 + 4 endpoint change(s) x 15 min = 4380 min, longer than the bake's "
        "timeout of 1440 min: the rollout would time out; use at most 460 bake_minutes for 3 step(s), or fewer steps")
    assert platform.endpoints.describe(get_model("sentiment").endpoint_name) is None


def test_plan_holds_all_at_once_to_one_step(platform):
    spec = get_model("sentiment")
    with pytest.raises(DataValidationError, match="1 ramp step.s. x bake_minutes 1440"):
        deployment.plan(platform, spec, None, "all_at_once", 10, [10, 50, 100], 1440, "r-1")
    # within the timeout the plan goes on, to the registry (empty here)
    with pytest.raises(RegistryError, match="no Approved version"):
        deployment.plan(platform, spec, None, "all_at_once", 10, [10, 50, 100], 1410, "r-1")


def test_the_bake_sensor_times_out_at_the_timeout_plan_fits_ramps_in():
    from findining_airflow.sensors.canary import CanaryBakeSensor

    sensor = CanaryBakeSensor(task_id="bake", model_name="sentiment", rollout={})
    assert sensor.timeout == BAKE_TIMEOUT.total_seconds()
