"""One feature builder for training, serving and monitoring, so they never disagree.

A request is what the app sends (the seed's ``getRecommendations(userId,
userPreferences, emotionalState)`` plus context and candidates); it explodes into one
row per candidate.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pandas as pd

NUMERICAL = ["price_level", "rating", "distance_km", "price_gap", "cuisine_match", "in_home_district"]
CATEGORICAL = ["cuisine", "restaurant_district", "emotional_state", "time_of_day"]
FEATURES = NUMERICAL + CATEGORICAL
REQUEST_FIELDS = ("user_id", "user_preferences", "emotional_state", "time_of_day", "district", "candidates")
CANDIDATE_FIELDS = ("restaurant_id", "cuisine", "district", "price_level", "rating", "distance_km")


def model_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Model inputs from logged or requested rows (interactions-shaped columns)."""
    cuisines = frame["pref_cuisines"].astype(str).str.split("|")
    match = np.fromiter((c in p for c, p in zip(frame["cuisine"], cuisines, strict=False)), dtype=float,
                        count=len(frame))
    out = pd.DataFrame(
        {
            "price_level": frame["price_level"].astype(float).to_numpy(),
            "rating": frame["rating"].astype(float).to_numpy(),
            "distance_km": frame["distance_km"].astype(float).to_numpy(),
            "price_gap": (frame["price_level"].astype(float) - frame["pref_price_level"].astype(float)).to_numpy(),
            "cuisine_match": match,
            "in_home_district": (frame["restaurant_district"] == frame["home_district"]).astype(float).to_numpy(),
        }
    )
    for column in CATEGORICAL:
        out[column] = frame[column].astype(str).to_numpy()
    return out


def check_request(request: dict) -> dict:
    """The request, or a ValueError naming what is missing."""
    if not isinstance(request, dict):
        raise ValueError(f"recommendation request must be a JSON object, got {type(request).__name__}")
    missing = [f for f in REQUEST_FIELDS if f not in request]
    if missing:
        raise ValueError(f"recommendation request lacks field(s): {', '.join(missing)}")
    candidates = request["candidates"]
    if not isinstance(candidates, list) or not candidates:
        raise ValueError("recommendation request needs a non-empty 'candidates' list")
    for i, candidate in enumerate(candidates):
        lacking = [f for f in CANDIDATE_FIELDS if f not in candidate]
        if lacking:
            raise ValueError(f"candidate {i} lacks field(s): {', '.join(lacking)}")
    return request


def candidate_matrix(request: dict, categories: dict[str, dict[str, int]]) -> np.ndarray:
    """``model_features`` of one checked request as the model's input array, built straight
    from the request: CATEGORICAL as ordinal codes (``categories``: column -> value -> code;
    an unseen value is NaN, as the fitted encoder does), then NUMERICAL. Serving builds no
    DataFrame: per request, pandas cost more than the trees."""
    prefs = request["user_preferences"]
    candidates = request["candidates"]
    liked = "|".join(prefs.get("cuisines", [])).split("|")
    pref_price = float(int(prefs.get("price_level", 2)))
    home = prefs.get("home_district", "")
    context = {"emotional_state": str(request["emotional_state"]), "time_of_day": str(request["time_of_day"])}
    rows = []
    for c in candidates:
        values = {"cuisine": str(c["cuisine"]), "restaurant_district": str(c["district"]), **context}
        price = float(c["price_level"])
        rows.append([categories[col].get(values[col], np.nan) for col in CATEGORICAL]
                    + [price, float(c["rating"]), float(c["distance_km"]), price - pref_price,
                       float(c["cuisine"] in liked), float(c["district"] == home)])
    return np.asarray(rows, dtype=float)


def request_rows(request: dict) -> pd.DataFrame:
    """Interactions-shaped rows for one request; raises ValueError naming a missing field."""
    return pd.DataFrame(candidate_rows(request))


def candidate_rows(request: dict) -> list[dict]:
    """One interactions-shaped dict per candidate, as plain Python: a day of captured requests becomes one
    frame at the end instead of a small frame per request. Raises ValueError naming a missing field."""
    check_request(request)
    prefs = request["user_preferences"]
    shared = {
        "user_id": request["user_id"],
        "home_district": prefs.get("home_district", ""),
        "request_district": request["district"],
        "time_of_day": request["time_of_day"],
        "emotional_state": request["emotional_state"],
        "pref_cuisines": "|".join(prefs.get("cuisines", [])),
        "pref_price_level": int(prefs.get("price_level", 2)),
    }
    return [{**shared, "restaurant_id": c["restaurant_id"], "cuisine": c["cuisine"],
             "restaurant_district": c["district"], "price_level": c["price_level"], "rating": c["rating"],
             "distance_km": c["distance_km"]} for c in request["candidates"]]


def requests_from_interactions(frame: pd.DataFrame) -> list[tuple[str, dict]]:
    """The app's requests behind logged interactions, as ``(inference_id, request)``."""
    requests = []
    # plain records grouped in order: a pandas group per request cost more than the request itself
    records = frame.sort_values(["inference_id", "position"]).to_dict("records")
    for inference_id, group in itertools.groupby(records, key=operator.itemgetter("inference_id")):
        rows = list(group)
        first = rows[0]
        requests.append(
            (
                inference_id,
                {
                    "user_id": first["user_id"],
                    "user_preferences": {
                        "cuisines": first["pref_cuisines"].split("|"),
                        "price_level": int(first["pref_price_level"]),
                        "home_district": first["home_district"],
                    },
                    "emotional_state": first["emotional_state"],
                    "time_of_day": first["time_of_day"],
                    "district": first["request_district"],
                    "candidates": [
                        {
                            "restaurant_id": r["restaurant_id"],
                            "cuisine": r["cuisine"],
                            "district": r["restaurant_district"],
                            "price_level": int(r["price_level"]),
                            "rating": round(float(r["rating"]), 1),
                            "distance_km": round(float(r["distance_km"]), 3),
                        }
                        for r in rows
                    ],
                },
            )
        )
    return requests
