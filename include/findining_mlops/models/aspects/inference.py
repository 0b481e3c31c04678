"""SageMaker scikit-learn serving handlers of the aspect model.

Request: ``{"text": "..."}`` or ``{"instances": [{"text": "..."}, ...]}``. Response: per
text ``{"aspects": [aspects at or above the threshold, most likely first], "top": aspect or
"none", "scores": {aspect: probability}}``; a batch answers ``{"predictions": [...]}``.
"""

from __future__ import annotations

import json

from findining_mlops.data.feedback import ASPECTS
from findining_mlops.models import contract
from findining_mlops.models.aspects.features import THRESHOLD, top_aspect
from findining_mlops.models.text import text_input


def model_fn(model_dir: str):
    return contract.load_model(model_dir)


def input_fn(request_body, request_content_type: str) -> dict:
    return text_input(request_body, request_content_type, "aspect")


def predict_fn(data: dict, model) -> dict:
    predictions = []
    for row in model.predict_proba(data["texts"]):
        scores = {aspect: round(float(p), 6) for aspect, p in zip(ASPECTS, row, strict=False)}
        found = sorted((a for a, p in scores.items() if p >= THRESHOLD), key=lambda a: -scores[a])
        predictions.append({"aspects": found, "top": top_aspect(row), "scores": scores})
    return {"predictions": predictions} if data["batch"] else predictions[0]


def output_fn(prediction: dict, accept: str) -> str:
    return json.dumps(prediction, ensure_ascii=False)
