"""The synthetic world: deterministic, honours the contracts, and scenarios shift what they say."""

from __future__ import annotations

import io
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from findining_mlops.data.contracts import INTERACTIONS, REVIEWS
from findining_mlops.data.synthetic import DISTRICTS, NEW_DISTRICTS, ScenarioPlan, World, generate
from findining_mlops.platform.local.store import LocalArtifactStore
from findining_mlops.store.layout import partition_key

DAY = date(2026, 10, 1)


@pytest.fixture(scope="module")
def world():
    return World(seed=5)


def test_world_has_restaurants_in_all_18_districts_and_enough_users(world):
    assert len(world.restaurants) >= 500
    assert set(world.restaurants["district"]) == set(DISTRICTS) and len(DISTRICTS) == 18
    assert len(world.users) >= 2000
    assert world.restaurants["price_level"].between(1, 4).all()


def test_same_seed_gives_byte_identical_partitions(tmp_path):
    a, b = LocalArtifactStore(tmp_path / "a"), LocalArtifactStore(tmp_path / "b")
    generate(a, DAY, 2, seed=9, requests_per_day=50, reviews_per_day=20)
    generate(b, DAY + timedelta(days=1), 1, seed=9, requests_per_day=50, reviews_per_day=20)
    key = partition_key("interactions", DAY + timedelta(days=1))
    assert a.read_bytes(key) == b.read_bytes(key)  # a day does not depend on the days before it
    assert a.read_bytes(partition_key("reviews", DAY)) != a.read_bytes(
        partition_key("reviews", DAY + timedelta(days=1)))


def test_partitions_follow_the_contract_schemas(tmp_path):
    store = LocalArtifactStore(tmp_path)
    generate(store, DAY, 1, seed=1, requests_per_day=30, reviews_per_day=30)
    interactions = pq.read_table(io.BytesIO(store.read_bytes(partition_key("interactions", DAY))))
    reviews = pq.read_table(io.BytesIO(store.read_bytes(partition_key("reviews", DAY))))
    assert interactions.schema.equals(INTERACTIONS, check_metadata=False)
    assert reviews.schema.equals(REVIEWS, check_metadata=False)
    frame = interactions.to_pandas()
    assert frame.groupby("inference_id").size().eq(20).all()
    assert frame["user_rating"].notna().eq(frame["engaged"] == 1).all()
    assert set(reviews.to_pandas()["language"]) == {"en", "yue"}


def test_new_district_shifts_where_requests_come_from(world):
    stable = world.interactions(DAY, 400, ScenarioPlan())
    shifted = world.interactions(DAY, 400, ScenarioPlan("new-district", DAY))
    def share(frame):
        return frame["home_district"].isin(NEW_DISTRICTS).mean()

    assert share(stable) < 0.25 < 0.6 < share(shifted)


def test_taste_shift_changes_engagement_but_not_the_inputs(world):
    stable = world.interactions(DAY, 600, ScenarioPlan())
    shifted = world.interactions(DAY, 600, ScenarioPlan("taste-shift", DAY))
    pd.testing.assert_series_equal(stable["cuisine"], shifted["cuisine"])
    def lift(frame):
        liked = np.array([c in p.split("|") for c, p in zip(frame["cuisine"], frame["pref_cuisines"], strict=True)])
        return frame["engaged"][liked].mean() / frame["engaged"][~liked].mean()

    assert lift(stable) > 2.5 and lift(shifted) < 1.8


def test_slang_shift_brings_new_vocabulary(world):
    stable = world.reviews(DAY, 300, ScenarioPlan())
    shifted = world.reviews(DAY, 300, ScenarioPlan("slang-shift", DAY))
    slang = "yyds|正到癲|伏|fire|mid|goated|no cap"
    assert stable["text"].str.contains(slang).mean() < 0.02
    assert shifted["text"].str.contains(slang).mean() > 0.4


def test_scenario_before_its_start_is_stable(world):
    later = DAY + timedelta(days=5)
    assert world.interactions(DAY, 50, ScenarioPlan("taste-shift", later)).equals(
        world.interactions(DAY, 50, ScenarioPlan()))


def test_unknown_scenario_or_missing_start_is_refused():
    with pytest.raises(ValueError, match="unknown scenario"):
        ScenarioPlan("weather")
    with pytest.raises(ValueError, match="needs a start date"):
        ScenarioPlan("taste-shift")
