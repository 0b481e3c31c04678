"""A synthetic Find Dining world: restaurants, users, daily requests and reviews.

Behaviour is learnable on purpose (engagement follows the user's stated tastes, mood,
time of day, price and distance) so trained models beat a popularity ranking, and each
scenario changes one thing from its start date so monitoring has something real to find:

- ``stable``: nothing changes.
- ``taste-shift``: engagement behaviour changes (mood and price preferences flip);
  inputs look the same, performance drops.
- ``new-district``: the app launches in the New Territories west; most requests now come
  from Yuen Long and Tuen Mun, at other times of day and in other moods (feature
  distribution shift).
- ``slang-shift``: reviewers switch to new slang in both languages (vocabulary drift).

Every day is generated from its own random stream keyed on (seed, date), so any day can
be regenerated alone and comes out byte-identical.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from findining_mlops.data.contracts import FEEDBACK, INTERACTIONS, REVIEWS
from findining_mlops.data.feedback import draw_aspects, feedback_frame
from findining_mlops.data.review_text import review_text
from findining_mlops.store.layout import partition_key, table_key

SCENARIOS = ("stable", "taste-shift", "new-district", "slang-shift")

# Hong Kong's 18 districts: centre (lat, lon) and relative population weight.
DISTRICTS = {
    "Central and Western": (22.286, 114.150, 2.4),
    "Wan Chai": (22.278, 114.182, 1.8),
    "Eastern": (22.284, 114.224, 5.3),
    "Southern": (22.247, 114.160, 2.6),
    "Yau Tsim Mong": (22.311, 114.170, 3.1),
    "Sham Shui Po": (22.330, 114.162, 4.3),
    "Kowloon City": (22.328, 114.191, 4.1),
    "Wong Tai Sin": (22.342, 114.193, 4.1),
    "Kwun Tong": (22.313, 114.225, 6.7),
    "Kwai Tsing": (22.354, 114.126, 4.9),
    "Tsuen Wan": (22.371, 114.114, 3.2),
    "Tuen Mun": (22.391, 113.977, 5.0),
    "Yuen Long": (22.445, 114.022, 6.6),
    "North": (22.494, 114.138, 3.1),
    "Tai Po": (22.450, 114.164, 3.0),
    "Sha Tin": (22.383, 114.188, 6.9),
    "Sai Kung": (22.381, 114.270, 4.9),
    "Islands": (22.261, 113.946, 1.9),
}
NEW_DISTRICTS = ("Yuen Long", "Tuen Mun")
CUISINES = (
    "cantonese", "dim_sum", "cha_chaan_teng", "hotpot", "japanese", "korean",
    "thai", "western", "italian", "vegetarian", "dessert", "fine_dining",
)
MOODS = ("happy", "stressed", "tired", "celebratory", "adventurous", "comfort_seeking")
TIMES_OF_DAY = ("breakfast", "lunch", "afternoon_tea", "dinner", "late_night")
TIME_HOURS = {"breakfast": (7, 10), "lunch": (11, 14), "afternoon_tea": (14, 17), "dinner": (18, 22),
              "late_night": (22, 24)}
TIME_SHARES = (0.12, 0.3, 0.13, 0.35, 0.1)
MOOD_SHARES = (1 / 6,) * 6
# New Territories west users: early commutes and late shifts, tired and stressed
NEW_DISTRICT_TIME_SHARES = (0.3, 0.15, 0.05, 0.2, 0.3)
NEW_DISTRICT_MOOD_SHARES = (0.08, 0.3, 0.35, 0.04, 0.03, 0.2)
CANDIDATES_PER_REQUEST = 20


def _affinity(pairs: dict[tuple[str, str], float], rows: tuple[str, ...]) -> np.ndarray:
    table = np.zeros((len(rows), len(CUISINES)))
    for (row, cuisine), value in pairs.items():
        table[rows.index(row), CUISINES.index(cuisine)] = value
    return table


MOOD_AFFINITY = _affinity(
    {
        ("stressed", "hotpot"): 1.2, ("stressed", "dessert"): 1.0, ("stressed", "fine_dining"): -0.8,
        ("tired", "cha_chaan_teng"): 1.1, ("tired", "cantonese"): 0.5, ("tired", "fine_dining"): -1.0,
        ("celebratory", "fine_dining"): 1.6, ("celebratory", "japanese"): 0.8, ("celebratory", "italian"): 0.7,
        ("adventurous", "thai"): 1.0, ("adventurous", "korean"): 1.0, ("adventurous", "vegetarian"): 0.6,
        ("comfort_seeking", "dim_sum"): 1.1, ("comfort_seeking", "cantonese"): 0.9,
        ("comfort_seeking", "cha_chaan_teng"): 0.7,
        ("happy", "dessert"): 0.5, ("happy", "western"): 0.4,
    },
    MOODS,
)
TIME_AFFINITY = _affinity(
    {
        ("breakfast", "cha_chaan_teng"): 1.4, ("breakfast", "dim_sum"): 1.2, ("breakfast", "fine_dining"): -2.0,
        ("breakfast", "hotpot"): -2.0, ("lunch", "cantonese"): 0.4, ("lunch", "japanese"): 0.3,
        ("afternoon_tea", "dessert"): 1.3, ("afternoon_tea", "cha_chaan_teng"): 0.8, ("afternoon_tea", "hotpot"): -1.5,
        ("dinner", "hotpot"): 0.8, ("dinner", "fine_dining"): 0.8, ("dinner", "italian"): 0.4,
        ("late_night", "hotpot"): 1.0, ("late_night", "cha_chaan_teng"): 0.6, ("late_night", "fine_dining"): -1.5,
    },
    TIMES_OF_DAY,
)

@dataclass(frozen=True)
class ScenarioPlan:
    """Which scenario(s) apply from which date; before ``start`` the world is stable.

    ``name`` may list several scenarios, comma-separated (``new-district,slang-shift``)."""

    name: str = "stable"
    start: date | None = None

    def __post_init__(self):
        unknown = [n for n in self.names if n not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenario {', '.join(unknown)!r}; choose from {', '.join(SCENARIOS)}")
        if self.names != ("stable",) and self.start is None:
            raise ValueError(f"scenario {self.name!r} needs a start date (--scenario-start)")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.name.split(",") if n.strip()) or ("stable",)

    def active(self, day: date, name: str) -> bool:
        return name in self.names and self.start is not None and day >= self.start


def _seed(*parts: object) -> np.random.Generator:
    text = "|".join(str(p) for p in parts)
    return np.random.default_rng([ord(c) for c in text])


class World:
    """Restaurants and users of a seed; fixed for the whole simulation."""

    def __init__(self, seed: int, n_restaurants: int = 600, n_users: int = 2500):
        if n_restaurants < 50 or n_users < 50:
            raise ValueError("the world needs at least 50 restaurants and 50 users")
        self.seed = seed
        self.n_restaurants = n_restaurants
        self.n_users = n_users

    @staticmethod
    @lru_cache(maxsize=8)
    def of(seed: int) -> World:
        """The default-sized world of ``seed``, built once per process: its users and restaurants never change,
        and drawing them again took a third of a small day's generation."""
        return World(seed)

    @cached_property
    def restaurants(self) -> pd.DataFrame:
        rng = _seed(self.seed, "restaurants")
        names = list(DISTRICTS)
        # every district has restaurants; busier districts have more
        weights = np.array([DISTRICTS[d][2] for d in names])
        district_idx = np.concatenate([np.arange(len(names)),
                                       rng.choice(len(names), self.n_restaurants - len(names),
                                                  p=weights / weights.sum())])
        cuisine_p = np.array([10, 8, 9, 6, 9, 5, 5, 7, 5, 3, 5, 3], dtype=float)
        cuisine = rng.choice(len(CUISINES), self.n_restaurants, p=cuisine_p / cuisine_p.sum())
        base_price = np.array([2, 2, 1, 3, 3, 2, 2, 3, 3, 2, 2, 4])[cuisine]
        in_new = np.isin(np.array(names)[district_idx], NEW_DISTRICTS)  # the New Territories west is cheaper
        price = np.clip(base_price + rng.integers(-1, 2, self.n_restaurants) - in_new, 1, 4)
        lat = np.array([DISTRICTS[names[i]][0] for i in district_idx]) + rng.normal(0, 0.008, self.n_restaurants)
        lon = np.array([DISTRICTS[names[i]][1] for i in district_idx]) + rng.normal(0, 0.008, self.n_restaurants)
        return pd.DataFrame(
            {
                "restaurant_id": [f"r{i:04d}" for i in range(self.n_restaurants)],
                "cuisine": np.array(CUISINES)[cuisine],
                "district": np.array(names)[district_idx],
                "price_level": price.astype(np.int8),
                "rating": np.round(np.clip(rng.normal(3.9, 0.45, self.n_restaurants), 2.0, 5.0), 1).astype(np.float32),
                "lat": lat,
                "lon": lon,
            }
        )

    @cached_property
    def users(self) -> pd.DataFrame:
        rng = _seed(self.seed, "users")
        names = list(DISTRICTS)
        weights = np.array([DISTRICTS[d][2] for d in names])
        home = rng.choice(len(names), self.n_users, p=weights / weights.sum())
        taste_p = np.array([10, 8, 9, 6, 9, 5, 5, 7, 5, 3, 5, 3], dtype=float)
        prefs = [
            "|".join(sorted(np.array(CUISINES)[rng.choice(len(CUISINES), rng.integers(2, 4), replace=False,
                                                          p=taste_p / taste_p.sum())]))
            for _ in range(self.n_users)
        ]
        in_new = np.isin(np.array(names)[home], NEW_DISTRICTS)
        return pd.DataFrame(
            {
                "user_id": [f"u{i:05d}" for i in range(self.n_users)],
                "home_district": np.array(names)[home],
                "pref_cuisines": prefs,
                "pref_price_level": np.where(in_new, rng.integers(1, 3, self.n_users),
                                             rng.integers(1, 5, self.n_users)).astype(np.int8),
                "language": np.where(rng.random(self.n_users) < 0.55, "yue", "en"),
            }
        )

    def _pick_users(self, rng: np.random.Generator, n: int, scenario: ScenarioPlan, day: date) -> np.ndarray:
        if not scenario.active(day, "new-district"):
            return rng.integers(0, self.n_users, n)
        in_new = np.flatnonzero(self.users["home_district"].isin(NEW_DISTRICTS).to_numpy())
        from_new = rng.random(n) < 0.7
        return np.where(from_new, rng.choice(in_new, n), rng.integers(0, self.n_users, n))

    # -- interactions ---------------------------------------------------------------
    def interactions(self, day: date, requests: int, scenario: ScenarioPlan) -> pd.DataFrame:
        rng = _seed(self.seed, "interactions", day.isoformat())
        frame, mood_idx, tod_idx = self._shown(rng, day, requests, scenario)
        return _engage(rng, frame, mood_idx, tod_idx, taste_shift=scenario.active(day, "taste-shift"))

    def _shown(self, rng: np.random.Generator, day: date, requests: int,
               scenario: ScenarioPlan) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The day's requests and the candidates each was shown, in shown order; with each row's mood and
        time-of-day index, which engagement depends on."""
        users = self.users.iloc[self._pick_users(rng, requests, scenario, day)].reset_index(drop=True)
        restaurants = self.restaurants
        shifted = scenario.active(day, "new-district")
        tod = rng.choice(len(TIMES_OF_DAY), requests, p=NEW_DISTRICT_TIME_SHARES if shifted else TIME_SHARES)
        mood = rng.choice(len(MOODS), requests, p=NEW_DISTRICT_MOOD_SHARES if shifted else MOOD_SHARES)
        away = rng.random(requests) < 0.3
        request_district = np.where(away, rng.choice(list(DISTRICTS), requests), users["home_district"].to_numpy())
        centre = np.array([DISTRICTS[d][:2] for d in request_district])
        here = centre + rng.normal(0, 0.01, centre.shape)
        # equirectangular distance in km: plenty for a city
        dlat = (restaurants["lat"].to_numpy()[None, :] - here[:, :1]) * 111.0
        dlon = (restaurants["lon"].to_numpy()[None, :] - here[:, 1:]) * 111.0 * np.cos(np.radians(22.3))
        distance = np.sqrt(dlat**2 + dlon**2)
        # candidates: nearby restaurants, sampled without replacement (Gumbel top-k)
        keys = -distance / 2.5 + rng.gumbel(size=distance.shape)
        cand = np.argsort(-keys, axis=1)[:, :CANDIDATES_PER_REQUEST]
        k = CANDIDATES_PER_REQUEST
        rows = np.repeat(np.arange(requests), k)
        ridx = cand.ravel()
        frame = pd.DataFrame(
            {
                "inference_id": [f"rec-{day:%Y%m%d}-{i:06d}" for i in rows],
                "user_id": users["user_id"].to_numpy()[rows],
                "home_district": users["home_district"].to_numpy()[rows],
                "request_district": request_district[rows],
                "time_of_day": np.array(TIMES_OF_DAY)[tod][rows],
                "emotional_state": np.array(MOODS)[mood][rows],
                "pref_cuisines": users["pref_cuisines"].to_numpy()[rows],
                "pref_price_level": users["pref_price_level"].to_numpy()[rows],
                "restaurant_id": restaurants["restaurant_id"].to_numpy()[ridx],
                "cuisine": restaurants["cuisine"].to_numpy()[ridx],
                "restaurant_district": restaurants["district"].to_numpy()[ridx],
                "price_level": restaurants["price_level"].to_numpy()[ridx],
                "rating": restaurants["rating"].to_numpy()[ridx],
                "distance_km": np.round(distance[rows, ridx], 3).astype(np.float32),
            }
        )
        # shown order: the app's current ranking is by rating, so position carries popularity
        frame["position"] = (
            frame.assign(_r=-frame["rating"]).groupby("inference_id", sort=False)["_r"].rank(method="first")
            .astype(np.int16) - 1
        )
        hours = np.array([rng.integers(*TIME_HOURS[t]) for t in np.array(TIMES_OF_DAY)[tod]])
        seconds = hours * 3600 + rng.integers(0, 3600, requests)
        midnight = pd.Timestamp(day, tz="UTC")
        frame.insert(1, "request_time", midnight + pd.to_timedelta(seconds[rows], unit="s"))
        return frame, mood[rows], tod[rows]


    # -- reviews --------------------------------------------------------------------
    def reviews(self, day: date, count: int, scenario: ScenarioPlan) -> pd.DataFrame:
        rng = _seed(self.seed, "reviews", day.isoformat())
        users = self.users.iloc[self._pick_users(rng, count, scenario, day)].reset_index(drop=True)
        restaurant = rng.integers(0, self.n_restaurants, count)
        labels = rng.choice(["positive", "negative", "neutral"], count, p=[0.5, 0.25, 0.25])
        slang = scenario.active(day, "slang-shift")
        texts, ratings = [], []
        for i in range(count):
            lang, label = users["language"].iat[i], labels[i]
            texts.append(review_text(rng, lang, label, slang))
            base = {"positive": 4.5, "neutral": 3.0, "negative": 1.6}[label]
            ratings.append(int(np.clip(round(base + rng.normal(0, 0.6)), 1, 5)))
        # a few reviews are mislabelled, as real annotations are
        noisy = rng.random(count) < 0.04
        labels = np.where(noisy, rng.choice(["positive", "negative", "neutral"], count), labels)
        seconds = rng.integers(0, 86400, count)
        return pd.DataFrame(
            {
                "inference_id": [f"rev-{day:%Y%m%d}-{i:06d}" for i in range(count)],
                "review_time": pd.Timestamp(day, tz="UTC") + pd.to_timedelta(np.sort(seconds), unit="s"),
                "user_id": users["user_id"].to_numpy(),
                "restaurant_id": self.restaurants["restaurant_id"].to_numpy()[restaurant],
                "language": users["language"].to_numpy(),
                "text": texts,
                "rating": np.array(ratings, dtype=np.int8),
                "sentiment": labels,
            }
        )


    # -- feedback (labelled with the aspects it complains about) -----------------------
    def feedback(self, day: date, count: int, scenario: ScenarioPlan) -> pd.DataFrame:
        rng = _seed(self.seed, "feedback", day.isoformat())
        users = self.users.iloc[self._pick_users(rng, count, scenario, day)].reset_index(drop=True)
        restaurants = self.restaurants["restaurant_id"].to_numpy()[rng.integers(0, self.n_restaurants, count)]
        return feedback_frame(rng, day, "fb", users, restaurants, draw_aspects(rng, count))

    def complaints(self, day: date, restaurant_id: str, aspect: str, count: int) -> pd.DataFrame:
        """``count`` complaints about ``aspect`` at one restaurant (a planted spike), with
        ids of their own so they add to the day's feedback."""
        rng = _seed(self.seed, "complaints", restaurant_id, aspect, day.isoformat())
        users = self.users.iloc[rng.integers(0, len(self.users), count)].reset_index(drop=True)
        return feedback_frame(rng, day, f"fb-{restaurant_id}-{aspect}", users, np.full(count, restaurant_id),
                              [[aspect]] * count)


def _engage(rng: np.random.Generator, frame: pd.DataFrame, mood_idx: np.ndarray, tod_idx: np.ndarray,
            taste_shift: bool) -> pd.DataFrame:
    """Whether the user engaged with each shown candidate, and the stars given when they did."""
    cuisine_idx = pd.Categorical(frame["cuisine"], categories=CUISINES).codes
    match = np.array([c in p.split("|") for c, p in zip(frame["cuisine"], frame["pref_cuisines"], strict=False)],
                     dtype=float)
    gap = frame["price_level"].to_numpy(float) - frame["pref_price_level"].to_numpy(float)
    mood_table, match_w, gap_w, dist_w = MOOD_AFFINITY, 2.0, -0.7 * np.abs(gap), 0.35
    if taste_shift:
        # tastes change: moods pull to other cuisines, stated preferences matter less,
        # people now go for pricier places and travel further
        mood_table, match_w, gap_w, dist_w = np.roll(MOOD_AFFINITY, 4, axis=1), 0.3, 0.6 * gap, 0.1
    logit = (
        -3.3 + match_w * match + 1.3 * mood_table[mood_idx, cuisine_idx] + TIME_AFFINITY[tod_idx, cuisine_idx]
        + gap_w - dist_w * frame["distance_km"].to_numpy() + 0.6 * (frame["rating"].to_numpy() - 3.9)
        - 0.03 * frame["position"].to_numpy()
    )
    engaged = rng.random(len(frame)) < 1 / (1 + np.exp(-logit))
    frame["engaged"] = engaged.astype(np.int8)
    stars = np.clip(np.round(frame["rating"].to_numpy() + 0.6 * match + rng.normal(0, 0.6, len(frame))), 1, 5)
    frame["user_rating"] = np.where(engaged, stars, np.nan).astype(np.float32)
    return frame


def to_parquet_bytes(frame: pd.DataFrame, schema: pa.Schema | None = None) -> bytes:
    """Parquet bytes, cast to the contract's schema when one is given."""
    if schema is None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


@dataclass(frozen=True)
class GenerationSummary:
    days: int
    interactions: int
    reviews: int
    keys: list[str]
    feedback: int = 0


def generate(store, start: date, days: int, seed: int, scenario: ScenarioPlan = ScenarioPlan(),
             requests_per_day: int = 1500, reviews_per_day: int = 400, world: World | None = None,
             progress=None, feedback_per_day: int = 120) -> GenerationSummary:
    """Write ``days`` daily partitions of every dataset, plus the world's dimension tables."""
    if days < 1:
        raise ValueError("days must be at least 1")
    world = world or World.of(seed)
    keys = [
        store.write_bytes(table_key("restaurants"), to_parquet_bytes(world.restaurants)),
        store.write_bytes(table_key("users"), to_parquet_bytes(world.users)),
    ]
    total_i = total_r = total_f = 0
    for offset in range(days):
        day = start + timedelta(days=offset)
        interactions = world.interactions(day, requests_per_day, scenario)
        reviews = world.reviews(day, reviews_per_day, scenario)
        keys.append(store.write_bytes(partition_key("interactions", day), to_parquet_bytes(interactions, INTERACTIONS)))
        keys.append(store.write_bytes(partition_key("reviews", day), to_parquet_bytes(reviews, REVIEWS)))
        total_i += len(interactions)
        total_r += len(reviews)
        if feedback_per_day:
            feedback = world.feedback(day, feedback_per_day, scenario)
            keys.append(store.write_bytes(partition_key("feedback", day), to_parquet_bytes(feedback, FEEDBACK)))
            total_f += len(feedback)
        if progress:
            progress(f"{day}: {len(interactions)} interaction rows, {len(reviews)} reviews")
    return GenerationSummary(days, total_i, total_r, keys, total_f)

