"""A/B outcomes of a recommendation: what the user did with the restaurants they were shown.

The app shows the top ``SHOWN`` of the ranking. Per request, ``recommendation_accuracy`` is 1
when the user engaged with one of them (the analysis averages it per user: their hit rate);
``user_satisfaction`` is the mean of the stars the user gave to those they engaged with (no
value when they engaged with none). The truth rows are the
user's engagement with every candidate of the request, so a model that ranks the restaurants
the user wants higher earns more of both.
"""

from __future__ import annotations

import pandas as pd

SHOWN = 3


def outcomes(truth: pd.DataFrame, response: dict) -> dict[str, float]:
    shown = set(response["ranking"][:SHOWN])
    engaged = truth[(truth["engaged"] == 1) & truth["restaurant_id"].isin(shown)]
    values = {"recommendation_accuracy": 1.0 if len(engaged) else 0.0}
    if len(engaged):
        values["user_satisfaction"] = float(engaged["user_rating"].astype(float).mean())
    return values
