"""SageMaker scikit-learn serving handlers of the recommendation model.

Request (``application/json``): ``{"user_id", "user_preferences": {"cuisines",
"price_level", "home_district"}, "emotional_state", "time_of_day", "district",
"candidates": [{"restaurant_id", "cuisine", "district", "price_level", "rating",
"distance_km"}]}``. Response: ``{"scores": [per candidate, in request order],
"ranking": [restaurant ids, best first]}``.
"""

from __future__ import annotations

import json

from threadpoolctl import threadpool_limits

from findining_mlops.models import contract
from findining_mlops.models.recommendation.features import model_features, request_rows
from findining_mlops.models.recommendation.train import predict_proba


def model_fn(model_dir: str):
    return contract.load_model(model_dir)


def input_fn(request_body, request_content_type: str):
    if "json" not in request_content_type:
        raise ValueError(f"unsupported content type {request_content_type!r}; send application/json")
    return request_rows(json.loads(request_body))


def predict_fn(rows, model) -> dict:
    # one request is ~20 rows: OpenMP thread start-up would cost more than the trees
    with threadpool_limits(limits=1):
        scores = predict_proba(model, model_features(rows))
    order = scores.argsort()[::-1]
    return {
        "scores": [round(float(s), 6) for s in scores],
        "ranking": [rows["restaurant_id"].iat[i] for i in order],
    }


def output_fn(prediction: dict, accept: str) -> str:
    return json.dumps(prediction)
