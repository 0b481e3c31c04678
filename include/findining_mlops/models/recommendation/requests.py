"""The requests the app sends the recommendation model: one per logged request of the
interactions, with its candidates; a sound answer scores every candidate."""

from __future__ import annotations

from datetime import date

import pandas as pd

from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.models.contract import AppRequest
from findining_mlops.models.recommendation.features import requests_from_interactions


def app_requests(rows: pd.DataFrame) -> list[AppRequest]:
    times = rows.groupby("inference_id")["request_time"].first()
    return [AppRequest(iid, times[iid], body) for iid, body in requests_from_interactions(rows)]


def synthetic_rows(world: World, day: date, count: int) -> pd.DataFrame:
    return world.interactions(day, count, ScenarioPlan())


def check_response(body: dict, response: object) -> str | None:
    scores = response.get("scores") if isinstance(response, dict) else None
    if not isinstance(scores, list) or len(scores) != len(body["candidates"]):
        return f"expected 'scores' with one score per candidate ({len(body['candidates'])})"
    if not all(isinstance(s, (int, float)) and 0.0 <= s <= 1.0 for s in scores):
        return "expected scores between 0 and 1"
    return None
