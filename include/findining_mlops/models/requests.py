"""The requests the app sends a model, built by the model's ``requests`` module from rows of
its dataset: the day's logged requests for a replay, or a synthetic world's for load and an
upload's smoke test."""

from __future__ import annotations

from datetime import date

import pandas as pd

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.data.synthetic import World
from findining_mlops.models.contract import AppRequest
from findining_mlops.platform.ports import Platform
from findining_mlops.store.partitions import read_partition


def day_requests(platform: Platform, spec: ModelSpec, day: date) -> list[AppRequest]:
    """Every request the app made that day."""
    return frame_requests(spec, read_partition(platform, spec.dataset, day))


def frame_requests(spec: ModelSpec, frame: pd.DataFrame) -> list[AppRequest]:
    """The requests behind rows of the model's dataset."""
    return spec.code.requests.app_requests(frame)


def synthetic_requests(spec: ModelSpec, seed: int, day: date, count: int) -> list[AppRequest]:
    """``count`` requests of the synthetic world's ``day``, as the app would have sent them."""
    requests = spec.code.requests
    return requests.app_requests(requests.synthetic_rows(World.of(seed), day, count))
