"""Schemas of the datasets in the store (their partition keys are ``store.layout``'s)."""

from __future__ import annotations

import pyarrow as pa

INTERACTIONS = pa.schema(
    [
        ("inference_id", pa.string()),  # one recommendation request = one endpoint invocation
        ("request_time", pa.timestamp("us", tz="UTC")),
        ("user_id", pa.string()),
        ("home_district", pa.string()),
        ("request_district", pa.string()),
        ("time_of_day", pa.string()),
        ("emotional_state", pa.string()),
        ("pref_cuisines", pa.string()),  # "|"-separated, as the app sends user preferences
        ("pref_price_level", pa.int8()),
        ("restaurant_id", pa.string()),
        ("cuisine", pa.string()),
        ("restaurant_district", pa.string()),
        ("price_level", pa.int8()),
        ("rating", pa.float32()),
        ("distance_km", pa.float32()),
        ("position", pa.int16()),
        ("engaged", pa.int8()),
        ("user_rating", pa.float32()),  # null unless engaged
    ]
)

REVIEWS = pa.schema(
    [
        ("inference_id", pa.string()),  # = review id; one review = one sentiment invocation
        ("review_time", pa.timestamp("us", tz="UTC")),
        ("user_id", pa.string()),
        ("restaurant_id", pa.string()),
        ("language", pa.string()),  # "en" | "yue"
        ("text", pa.string()),
        ("rating", pa.int8()),
        ("sentiment", pa.string()),  # "positive" | "negative" | "neutral"
    ]
)

FEEDBACK = pa.schema(
    [
        ("inference_id", pa.string()),  # = feedback id; one feedback = one aspect-model invocation
        ("feedback_time", pa.timestamp("us", tz="UTC")),
        ("user_id", pa.string()),
        ("restaurant_id", pa.string()),
        ("language", pa.string()),  # "en" | "yue"
        ("text", pa.string()),
        ("sentiment", pa.string()),  # "negative" (a complaint) | "positive" (praise)
        ("aspects", pa.string()),  # "|"-separated, sorted; empty for praise
    ]
)

SCHEMAS = {"interactions": INTERACTIONS, "reviews": REVIEWS, "feedback": FEEDBACK}
SENTIMENT_LABELS = ("negative", "neutral", "positive")

