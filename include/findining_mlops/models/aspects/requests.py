"""The requests the app sends the aspect model: each piece of feedback's text, as it was
written; a sound answer lists the aspects found and scores every aspect."""

from __future__ import annotations

from datetime import date

import pandas as pd

from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.models.contract import AppRequest
from findining_mlops.models.text import text_requests


def app_requests(rows: pd.DataFrame) -> list[AppRequest]:
    return text_requests(rows, "feedback_time")


def synthetic_rows(world: World, day: date, count: int) -> pd.DataFrame:
    return world.feedback(day, count, ScenarioPlan())


def check_response(body: dict, response: object) -> str | None:
    if not isinstance(response, dict) or not isinstance(response.get("scores"), dict) \
            or not isinstance(response.get("aspects"), list):
        return "expected 'aspects' (a list) and 'scores' (aspect -> probability)"
    return None
