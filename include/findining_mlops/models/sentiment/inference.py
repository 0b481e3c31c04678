"""SageMaker scikit-learn serving handlers of the sentiment model (the seed's ``analyzeReview``).

Request: ``{"text": "..."}`` or ``{"instances": [{"text": "..."}, ...]}``. Response: per
review ``{"label": "positive"|"neutral"|"negative", "scores": {label: probability}}``;
a batch answers ``{"predictions": [...]}``.
"""

from __future__ import annotations

import json

from findining_mlops.models import contract
from findining_mlops.models.text import text_input


def model_fn(model_dir: str):
    return contract.load_model(model_dir)


def input_fn(request_body, request_content_type: str) -> dict:
    return text_input(request_body, request_content_type, "sentiment")


def predict_fn(data: dict, model) -> dict:
    probabilities = model.predict_proba(data["texts"])
    classes = list(model.classes_)
    predictions = [
        {"label": classes[int(row.argmax())],
         "scores": {c: round(float(p), 6) for c, p in zip(classes, row, strict=False)}}
        for row in probabilities
    ]
    return {"predictions": predictions} if data["batch"] else predictions[0]


def output_fn(prediction: dict, accept: str) -> str:
    return json.dumps(prediction, ensure_ascii=False)
