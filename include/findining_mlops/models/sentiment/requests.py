"""The requests the app sends the sentiment model: each review's text, as it was written;
a sound answer is one of the sentiment labels."""

from __future__ import annotations

from datetime import date

import pandas as pd

from findining_mlops.data.contracts import SENTIMENT_LABELS
from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.models.contract import AppRequest
from findining_mlops.models.text import text_requests


def app_requests(rows: pd.DataFrame) -> list[AppRequest]:
    return text_requests(rows, "review_time")


def synthetic_rows(world: World, day: date, count: int) -> pd.DataFrame:
    return world.reviews(day, count, ScenarioPlan())


def check_response(body: dict, response: object) -> str | None:
    if not isinstance(response, dict) or response.get("label") not in SENTIMENT_LABELS:
        return f"expected 'label' among {', '.join(SENTIMENT_LABELS)}"
    return None
