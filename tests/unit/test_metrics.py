"""Model quality metrics: NDCG / hit rate on hand-computed cases, AUC as sklearn computes
it, and macro F1 of the sentiment classes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from findining_mlops.models.metrics import binary_metrics, classification_metrics, ranking_metrics


def _ranking(rows: list[tuple[str, int, float]], k: int = 10) -> dict:
    """``rows`` are (group, relevance, score) triples."""
    groups, rel, scores = zip(*rows, strict=False)
    return ranking_metrics(pd.Series(groups), np.array(rel), np.array(scores), k=k)


def test_perfect_ranking_has_ndcg_and_hit_rate_of_one():
    rows = [("a", 1, 0.9), ("a", 1, 0.8), ("a", 0, 0.2), ("b", 1, 0.7), ("b", 0, 0.1), ("b", 0, 0.05)]
    result = _ranking(rows)
    assert result["ndcg_at_10"] == pytest.approx(1.0)
    assert result["hit_rate_at_10"] == pytest.approx(1.0)
    assert result["ranked_requests"] == 2


def test_two_request_case_matches_the_hand_computed_ndcg():
    # request a: the only engaged item is ranked 2nd -> DCG = 1/log2(3), IDCG = 1
    # request b: ranked relevances are 0, 1, 1, 0 -> DCG = 1/log2(3) + 1/log2(4),
    #            ideal is 1, 1, 0, 0 -> IDCG = 1 + 1/log2(3)
    rows = [
        ("a", 0, 0.9), ("a", 1, 0.5), ("a", 0, 0.1),
        ("b", 1, 0.2), ("b", 0, 0.8), ("b", 1, 0.6), ("b", 0, 0.1),
    ]
    ndcg_a = 1 / math.log2(3)
    ndcg_b = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    result = _ranking(rows)
    assert result["ndcg_at_10"] == pytest.approx((ndcg_a + ndcg_b) / 2)  # ~0.6622
    assert result["hit_rate_at_10"] == pytest.approx(1.0)
    assert result["ranked_requests"] == 2


def test_rows_of_a_request_need_not_be_contiguous():
    rows = [
        ("a", 0, 0.9), ("b", 1, 0.2), ("a", 1, 0.5), ("b", 0, 0.8),
        ("b", 1, 0.6), ("a", 0, 0.1), ("b", 0, 0.1),
    ]
    ndcg_a = 1 / math.log2(3)
    ndcg_b = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert _ranking(rows)["ndcg_at_10"] == pytest.approx((ndcg_a + ndcg_b) / 2)


def test_cutoff_k_only_counts_the_top_k_items():
    # request a's engaged item is 2nd: a hit at k=2, a miss at k=1
    rows = [("a", 0, 0.9), ("a", 1, 0.5), ("a", 0, 0.1)]
    assert _ranking(rows, k=1) == {"ndcg_at_1": 0.0, "hit_rate_at_1": 0.0, "ranked_requests": 1}
    at_2 = _ranking(rows, k=2)
    assert at_2["hit_rate_at_2"] == 1.0
    assert at_2["ndcg_at_2"] == pytest.approx(1 / math.log2(3))


def test_requests_without_any_engagement_are_left_out():
    rows = [("a", 0, 0.9), ("a", 1, 0.5), ("a", 0, 0.1)]
    without = _ranking(rows)
    with_empty = _ranking(rows + [("z", 0, 0.99), ("z", 0, 0.3), ("z", 0, 0.2)])
    assert with_empty == without
    assert with_empty["ranked_requests"] == 1


def test_no_request_with_an_engagement_gives_nan_and_zero_requests():
    result = _ranking([("a", 0, 0.9), ("a", 0, 0.5)])
    assert math.isnan(result["ndcg_at_10"]) and math.isnan(result["hit_rate_at_10"])
    assert result["ranked_requests"] == 0


def test_engaged_item_ranked_outside_the_top_10_of_12_is_a_miss():
    scores = np.linspace(1.0, 0.0, 12)  # candidate 11 has the lowest score: 12th place
    rows = [("a", int(i == 11), float(s)) for i, s in enumerate(scores)]
    result = _ranking(rows)
    assert result["hit_rate_at_10"] == 0.0
    assert result["ndcg_at_10"] == 0.0
    # the same item at 10th place is still a hit
    rows_10th = [("a", int(i == 9), float(s)) for i, s in enumerate(scores)]
    at_10th = _ranking(rows_10th)
    assert at_10th["hit_rate_at_10"] == 1.0
    assert at_10th["ndcg_at_10"] == pytest.approx(1 / math.log2(11))


def test_hit_rate_is_the_share_of_requests_with_an_engagement_in_the_top_k():
    scores = np.linspace(1.0, 0.0, 12)
    hit = [("hit", int(i == 0), float(s)) for i, s in enumerate(scores)]
    miss = [("miss", int(i == 11), float(s)) for i, s in enumerate(scores)]
    assert _ranking(hit + miss)["hit_rate_at_10"] == pytest.approx(0.5)


def test_auc_equals_sklearn_roc_auc_score():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    probabilities = np.clip(0.3 * labels + rng.random(500) * 0.7, 0, 1)
    result = binary_metrics(labels, probabilities)
    assert result["auc"] == pytest.approx(roc_auc_score(labels, probabilities))
    assert 0.5 < result["auc"] < 1.0
    assert result["positive_rate"] == pytest.approx(labels.mean())


def test_auc_of_a_single_class_is_nan():
    assert math.isnan(binary_metrics(np.ones(5), np.linspace(0.1, 0.9, 5))["auc"])


def test_calibration_error_is_zero_when_probabilities_match_rates_and_large_when_not():
    labels = np.array([1, 0, 0, 0] * 10)
    assert binary_metrics(labels, np.full(40, 0.25))["calibration_error"] == pytest.approx(0.0)
    assert binary_metrics(labels, np.full(40, 0.95))["calibration_error"] == pytest.approx(0.70)


def test_macro_f1_averages_per_class_f1_and_accuracy_is_the_hit_share():
    labels = ["neg", "neg", "neu", "neu", "pos", "pos"]
    predictions = ["neg", "neu", "neu", "neu", "pos", "neg"]
    # per class F1: neg P=1/2 R=1/2 -> 0.5; neu P=2/3 R=1 -> 0.8; pos P=1 R=1/2 -> 2/3
    result = classification_metrics(labels, predictions)
    assert result["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert result["accuracy"] == pytest.approx(4 / 6)


def test_macro_f1_of_perfect_predictions_is_one():
    labels = ["negative", "neutral", "positive"] * 3
    assert classification_metrics(labels, labels) == {"macro_f1": 1.0, "accuracy": 1.0}
