"""Scoring the candidates as one array gives exactly the trained pipeline's scores."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.models.recommendation import inference
from findining_mlops.models.recommendation.features import model_features, request_rows
from findining_mlops.models.recommendation.train import HYPERPARAMETERS, fit, predict_proba
from findining_mlops.models.requests import frame_requests

DAY = date(2026, 10, 1)


@pytest.fixture(scope="module")
def pipeline():
    frame = World(3).interactions(DAY, 300, ScenarioPlan())
    with threadpool_limits(limits=1):
        return fit(frame, frame.iloc[:0], {**HYPERPARAMETERS, "max_iter": 20})


@pytest.fixture(scope="module")
def requests():
    # a new district appears: unseen categories among the candidates
    frame = World(4).interactions(DAY, 40, ScenarioPlan("new-district", DAY))
    return [body for _, _, body in frame_requests(get_model("recommendation"), frame)]


def test_the_array_scores_equal_the_pipelines_scores(pipeline, requests):
    scorer = inference.CandidateScorer.load(pipeline)
    assert scorer.categories is not None
    for request in requests:
        expected = predict_proba(pipeline, model_features(request_rows(request)))
        np.testing.assert_allclose(scorer.scores(request), expected, rtol=0, atol=1e-12)


def test_an_unseen_category_is_scored_like_the_encoder_scores_it(pipeline, requests):
    request = json.loads(json.dumps(requests[0]))
    request["emotional_state"] = "never-seen-before"
    request["candidates"][0]["district"] = "Atlantis"
    expected = predict_proba(pipeline, model_features(request_rows(request)))
    np.testing.assert_allclose(inference.CandidateScorer.load(pipeline).scores(request), expected, atol=1e-12)


def test_a_model_of_another_shape_is_scored_through_its_own_pipeline(pipeline, requests):
    from sklearn.pipeline import Pipeline

    wrapped = Pipeline([("model", pipeline)])  # e.g. an upload: not the trained pipeline's steps
    scorer = inference.CandidateScorer.load(wrapped)
    assert scorer.categories is None
    expected = predict_proba(pipeline, model_features(request_rows(requests[0])))
    np.testing.assert_allclose(scorer.scores(requests[0]), expected, atol=1e-12)
