"""The requests the app sends each model, built from rows of the model's dataset: the day's
logged requests for a replay, or a synthetic world's for load and an upload's smoke test."""

from __future__ import annotations

from datetime import date

import pandas as pd

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.errors import EndpointError
from findining_mlops.platform.ports import Platform
from findining_mlops.store.partitions import read_partition


def day_requests(platform: Platform, spec: ModelSpec, day: date) -> list[tuple[str, pd.Timestamp, dict]]:
    """``(inference_id, time, request body)`` of every request the app made that day."""
    return frame_requests(spec, read_partition(platform, spec.dataset, day))


def frame_requests(spec: ModelSpec, frame: pd.DataFrame) -> list[tuple[str, pd.Timestamp, dict]]:
    """``(inference_id, time, request body)`` of the requests behind rows of the model's dataset."""
    if spec.dataset == "interactions":
        from findining_mlops.models.recommendation.features import requests_from_interactions

        times = frame.groupby("inference_id")["request_time"].first()
        return [(iid, times[iid], body) for iid, body in requests_from_interactions(frame)]
    if spec.dataset == "reviews":
        return [(r.inference_id, r.review_time, {"text": r.text}) for r in frame.itertuples()]
    if spec.dataset == "feedback":
        return [(r.inference_id, r.feedback_time, {"text": r.text}) for r in frame.itertuples()]
    raise EndpointError(f"no request replay is defined for dataset {spec.dataset!r} of model {spec.name}")


def synthetic_requests(spec: ModelSpec, seed: int, day: date, count: int) -> list[tuple[str, pd.Timestamp, dict]]:
    """``count`` requests of the synthetic world's ``day``, as the app would have sent them."""
    world = World.of(seed)
    generators = {"interactions": world.interactions, "reviews": world.reviews, "feedback": world.feedback}
    if spec.dataset not in generators:
        raise EndpointError(f"no synthetic traffic is defined for dataset {spec.dataset!r} of model {spec.name}")
    return frame_requests(spec, generators[spec.dataset](day, count, ScenarioPlan()))
