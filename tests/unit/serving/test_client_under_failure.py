"""The app client (MLService) in front of real model servers: answers cached only under
the endpoint's live configuration and the user's arm, a marked and counted fallback for
recommendations, a clear error for sentiment, and A/B users who never cross arms."""

from __future__ import annotations

import os
import signal
from datetime import UTC, date

import pytest

from findining_mlops.abtest import lifecycle
from findining_mlops.config.catalog import get_model
from findining_mlops.data.synthetic import ScenarioPlan, World, generate
from findining_mlops.models.requests import frame_requests
from findining_mlops.platform.ports import ABTest, ProductionVariant
from findining_mlops.serving.client.cache import cache_key
from findining_mlops.serving.client.service import MLService, ModelUnavailableError

SENTIMENT = get_model("sentiment").endpoint_name
RECOMMENDATION = get_model("recommendation").endpoint_name
DAY = date(2026, 10, 1)
REVIEW = {"text": "the char siu was delicious"}


def _sentiment_variant(name: str, archive, version: int = 1, weight: float = 1.0) -> ProductionVariant:
    return ProductionVariant(name, "sentiment", version, archive.as_uri(), weight)


@pytest.fixture
def service(platform):
    return MLService(platform, refresh_s=0)


# -- the cache ----------------------------------------------------------------------------
def test_a_repeated_request_is_answered_from_the_cache_and_counted(platform, service, sentiment_archive):
    platform.endpoints.deploy(SENTIMENT, [_sentiment_variant("v1", sentiment_archive)])
    first = service.analyze_review(REVIEW["text"])
    again = service.analyze_review(REVIEW["text"])
    assert (first.cached, again.cached) == (False, True)
    assert again.body == first.body and again.variant == first.variant
    stats = service.serving_stats()["sentiment"]
    assert (stats["cachehits"], stats["cachemisses"], stats["cache_hit_rate"]) == (1, 1, 0.5)


def test_a_canary_step_or_a_promotion_changes_the_key_so_no_stale_version_answers(platform, service,
                                                                                 sentiment_archive):
    platform.endpoints.deploy(SENTIMENT, [_sentiment_variant("champion", sentiment_archive, 1, 0.9),
                                          _sentiment_variant("challenger", sentiment_archive, 2, 0.1)])
    keys = [cache_key("sentiment", platform.endpoints.describe(SENTIMENT), None, REVIEW)]
    platform.endpoints.update_weights(SENTIMENT, {"champion": 0.5, "challenger": 0.5})  # a ramp step
    keys.append(cache_key("sentiment", platform.endpoints.describe(SENTIMENT), None, REVIEW))
    platform.endpoints.deploy(SENTIMENT, [_sentiment_variant("challenger", sentiment_archive, 2)])  # promoted
    keys.append(cache_key("sentiment", platform.endpoints.describe(SENTIMENT), None, REVIEW))
    assert len(set(keys)) == 3
    service.analyze_review(REVIEW["text"])
    assert service.analyze_review(REVIEW["text"]).cached
    platform.endpoints.update_weights(SENTIMENT, {"challenger": 2.0})  # same variants, new live config
    assert not service.analyze_review(REVIEW["text"]).cached


def test_each_ab_arm_and_each_request_has_its_own_key(platform, sentiment_archive):
    platform.endpoints.deploy(SENTIMENT, [_sentiment_variant("control", sentiment_archive, 1, 0.5),
                                          _sentiment_variant("treatment", sentiment_archive, 2, 0.5)])
    endpoint = platform.endpoints.describe(SENTIMENT)
    assert cache_key("sentiment", endpoint, "control", REVIEW) != cache_key("sentiment", endpoint, "treatment", REVIEW)
    assert cache_key("sentiment", endpoint, None, REVIEW) != cache_key("sentiment", endpoint, None, {"text": "meh"})
    assert cache_key("sentiment", endpoint, "control", REVIEW) == cache_key("sentiment", endpoint, "control",
                                                                            dict(REVIEW))


# -- fallbacks and clear errors -------------------------------------------------------------
@pytest.fixture
def broken_recommendations(platform, failing_sentiment_archive, fault_drill_endpoints):
    """A day of app data, and a recommendation endpoint whose variant fails every request
    (a drill's error_rate 1.0, raised before its model is asked anything)."""
    generate(platform.store, DAY, 1, seed=3, requests_per_day=300, reviews_per_day=10)
    platform.endpoints.deploy(RECOMMENDATION, [ProductionVariant("v1", "recommendation", 1,
                                                                 failing_sentiment_archive.as_uri(), 1.0)])
    return platform


def test_recommendations_fall_back_to_the_districts_popular_restaurants_marked_and_counted(broken_recommendations,
                                                                                          service):
    frame = World(3).interactions(DAY, 5, ScenarioPlan())
    _, _, request = frame_requests(get_model("recommendation"), frame)[0]
    served = service.invoke("recommendation", request["user_id"], request)
    assert served.fallback and served.body["fallback"] is True
    assert served.body["fallback_day"] == DAY.isoformat()
    assert sorted(served.body["ranking"]) == sorted(c["restaurant_id"] for c in request["candidates"])
    # most engaged in the request's district first, by the newest day's data
    day = broken_recommendations.store.read_bytes(f"data/interactions/dt={DAY}/part-0.parquet")
    import io

    import pandas as pd

    logged = pd.read_parquet(io.BytesIO(day))
    engaged = logged[logged["request_district"] == request["district"]].groupby("restaurant_id")["engaged"].sum()
    counts = [int(engaged.get(r, 0)) for r in served.body["ranking"]]
    assert counts == sorted(counts, reverse=True)
    health = service.health_check()
    assert health["serving"]["recommendation"]["fallbacks"] == 1
    published = broken_recommendations.metrics.query("FindDining/Serving", "Fallbacks",
                                                     {"ModelName": "recommendation"}, *_today())
    assert sum(point.value for point in published) == 1


def test_sentiment_without_an_answer_is_a_clear_error_never_a_made_up_label(platform, service, sentiment_archive,
                                                                          failing_sentiment_archive,
                                                                          fault_drill_endpoints):
    platform.endpoints.deploy(SENTIMENT, [_sentiment_variant("v1", failing_sentiment_archive)])
    with pytest.raises(ModelUnavailableError, match="sentiment cannot answer now and has no fallback"):
        service.analyze_review("the noodles were cold")
    assert service.serving_stats()["sentiment"]["unavailable"] == 1


# -- A/B users stay in their arm --------------------------------------------------------------
@pytest.fixture
def ab_test(platform, sentiment_archive, failing_sentiment_archive, fault_drill_endpoints):
    """A running sentiment A/B test whose control variant fails every request."""
    platform.endpoints.deploy(SENTIMENT, [_sentiment_variant("control", failing_sentiment_archive, 1, 0.5),
                                          _sentiment_variant("treatment", sentiment_archive, 2, 0.5)])
    return platform.abtests.create(ABTest(
        "ab-serving", "serving", "sentiment", SENTIMENT, 1, 2, "control", "treatment", 50, 7,
        {"sentiment_accuracy": {"kind": "binary"}}, {}, 0.05, DAY.isoformat()))


def _users(test: ABTest, arm: str, count: int) -> list[str]:
    users = (f"user-{i}" for i in range(10_000))
    return [u for u in users if lifecycle.assign(test, u) == arm][:count]


def test_a_user_whose_arm_fails_gets_an_error_never_the_other_arms_answer(ab_test, service):
    for user in _users(ab_test, "control", 5):
        with pytest.raises(ModelUnavailableError):
            service.analyze_review(REVIEW["text"], user_id=user)
    for user in _users(ab_test, "treatment", 5):
        served = service.analyze_review(REVIEW["text"], user_id=user)
        assert (served.arm, served.variant) == ("treatment", "treatment")


def test_a_user_whose_arms_server_is_killed_is_served_by_its_restarted_server(platform, ab_test, service):
    [user] = _users(ab_test, "treatment", 1)
    assert service.analyze_review("first", user_id=user).variant == "treatment"
    pids = platform.endpoints.server_status(SENTIMENT)["treatment"]["pids"]
    os.kill(pids[0], signal.SIGKILL)
    served = [service.analyze_review(f"review {i}", user_id=user) for i in range(5)]
    assert {(s.arm, s.variant, s.fallback) for s in served} == {("treatment", "treatment", False)}


def _today():
    from datetime import datetime, timedelta

    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)
