"""A/B outcomes come from what the user did with what the model showed them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from findining_mlops.models.recommendation.outcomes import outcomes as recommendation_outcomes
from findining_mlops.models.sentiment.outcomes import outcomes as sentiment_outcomes

CANDIDATES = pd.DataFrame({"restaurant_id": ["a", "b", "c", "d", "e"], "engaged": [0, 1, 0, 1, 0],
                           "user_rating": [np.nan, 4.0, np.nan, 2.0, np.nan]})


def test_a_ranking_that_shows_what_the_user_wants_earns_a_hit_and_their_stars():
    assert recommendation_outcomes(CANDIDATES, {"ranking": ["b", "d", "a", "c", "e"]}) == {
        "recommendation_accuracy": 1.0, "user_satisfaction": 3.0}
    assert recommendation_outcomes(CANDIDATES, {"ranking": ["d", "a", "c", "b", "e"]}) == {
        "recommendation_accuracy": 1.0, "user_satisfaction": 2.0}


def test_a_ranking_that_hides_it_below_the_top_three_earns_nothing_and_no_stars():
    assert recommendation_outcomes(CANDIDATES, {"ranking": ["a", "c", "e", "b", "d"]}) == {
        "recommendation_accuracy": 0.0}


def test_a_sentiment_prediction_is_accurate_when_it_matches_the_reviews_label():
    review = pd.DataFrame({"sentiment": ["negative"]})
    assert sentiment_outcomes(review, {"label": "negative"}) == {"sentiment_accuracy": 1.0}
    assert sentiment_outcomes(review, {"label": "positive"}) == {"sentiment_accuracy": 0.0}
