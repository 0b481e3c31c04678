"""SageMaker scikit-learn serving handlers of the recommendation model.

Request (``application/json``): ``{"user_id", "user_preferences": {"cuisines",
"price_level", "home_district"}, "emotional_state", "time_of_day", "district",
"candidates": [{"restaurant_id", "cuisine", "district", "price_level", "rating",
"distance_km"}]}``. Response: ``{"scores": [per candidate, in request order],
"ranking": [restaurant ids, best first]}``.

The candidates are scored as one array: the trained pipeline's encoder becomes lookup
tables at load time, so a request costs the trees, not a DataFrame and a ColumnTransformer
(a model of another shape, e.g. an uploaded one, is scored through its own pipeline).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from findining_mlops.models import contract
from findining_mlops.models.recommendation.features import (
    CATEGORICAL,
    NUMERICAL,
    candidate_matrix,
    check_request,
    model_features,
    request_rows,
)
from findining_mlops.models.recommendation.train import predict_proba


@dataclass(frozen=True)
class CandidateScorer:
    """The loaded model; ``categories`` is None when it is not the trained pipeline's shape."""

    model: Any  # the trained pipeline, or a model of another shape
    categories: dict[str, dict[str, int]] | None

    @classmethod
    def load(cls, model) -> CandidateScorer:
        try:
            encoder = model.named_steps["encode"]
            name, ordinal, columns = encoder.transformers_[0]
            fitted_order = list(encoder.feature_names_in_) == CATEGORICAL + NUMERICAL
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            return cls(model, None)
        if name != "cat" or list(columns) != CATEGORICAL or not fitted_order:
            return cls(model, None)
        return cls(model, {col: {str(v): i for i, v in enumerate(values)}
                           for col, values in zip(CATEGORICAL, ordinal.categories_, strict=False)})

    def scores(self, request: dict) -> np.ndarray:
        if self.categories is None:
            return predict_proba(self.model, model_features(request_rows(request)))
        return self.model.named_steps["gbt"].predict_proba(candidate_matrix(request, self.categories))[:, 1]


def model_fn(model_dir: str) -> CandidateScorer:
    return CandidateScorer.load(contract.load_model(model_dir))


def input_fn(request_body, request_content_type: str) -> dict:
    if "json" not in request_content_type:
        raise ValueError(f"unsupported content type {request_content_type!r}; send application/json")
    return check_request(json.loads(request_body))


@cache
def _thread_pools() -> ThreadpoolController:
    """The process's native thread pools, found once: ``threadpool_limits`` looks for them on every call, which
    cost as much as scoring the candidates."""
    return ThreadpoolController()


def predict_fn(request: dict, model: CandidateScorer) -> dict:
    # one request is ~20-50 rows: OpenMP thread start-up would cost more than the trees
    with _thread_pools().limit(limits=1, user_api="openmp"):
        scores = model.scores(request)
    order = scores.argsort()[::-1]
    ids = [c["restaurant_id"] for c in request["candidates"]]
    return {
        "scores": [round(float(s), 6) for s in scores],
        "ranking": [ids[i] for i in order],
    }


def output_fn(prediction: dict, accept: str) -> str:
    return json.dumps(prediction)
