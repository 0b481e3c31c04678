"""What the app shows when the recommendation endpoint cannot answer: the candidates ranked
by how popular each restaurant is in the request's district, from the newest day of app
data in the store (engagements, then impressions, then the restaurant's rating break ties).

The answer has the model's shape plus ``"fallback": true``, so the app and the metrics can
tell it from a model's ranking; sentiment has no honest fallback and gets none."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import TypedDict

from findining_mlops.errors import DataValidationError
from findining_mlops.platform.ports import Platform
from findining_mlops.store.layout import dataset_prefix, partition_day

DATASET = "interactions"
REFRESH_S = 3600.0  # a new day of data lands daily; an hour old popularity is fresh enough


class FallbackRanking(TypedDict):
    """A ranking answer of the recommendation endpoint's shape, marked as the fallback's."""

    scores: list[float]  # per candidate, in the request's order
    ranking: list  # restaurant ids, best first
    fallback: bool
    fallback_day: str | None  # the day of data the popularity comes from


class PopularityFallback:
    def __init__(self, platform: Platform, refresh_s: float = REFRESH_S):
        self.platform = platform
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._popularity: dict[tuple[str, str], tuple[int, int]] = {}
        self.day: date | None = None

    def rank(self, request: dict) -> FallbackRanking:
        """``{"scores", "ranking", "fallback": true, "fallback_day"}`` for the request's candidates."""
        popularity = self._table()
        district = str(request.get("district", ""))
        candidates = request.get("candidates") or []
        keys = [(engaged, shown, float(c.get("rating", 0.0)))
                for c in candidates
                for engaged, shown in [popularity.get((district, str(c.get("restaurant_id"))), (0, 0))]]
        top = max((k[0] for k in keys), default=0) or 1
        scores = [round(engaged / top, 6) for engaged, _, _ in keys]
        order = sorted(range(len(candidates)), key=lambda i: keys[i], reverse=True)
        return {"scores": scores, "ranking": [candidates[i].get("restaurant_id") for i in order], "fallback": True,
                "fallback_day": self.day.isoformat() if self.day else None}

    def _table(self) -> dict[tuple[str, str], tuple[int, int]]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.refresh_s:
                self._popularity, self.day = _load_latest(self.platform)
                self._loaded_at = time.monotonic()
            return self._popularity


def _load_latest(platform: Platform) -> tuple[dict[tuple[str, str], tuple[int, int]], date | None]:
    """(district, restaurant) -> (engagements, impressions) of the newest day in the store;
    empty when there is no data yet (the ranking then follows the candidates' ratings)."""
    from findining_mlops.store.partitions import read_partition

    days = sorted({day for key in platform.store.list_keys(dataset_prefix(DATASET)) if (day := partition_day(key))})
    for day in reversed(days):
        try:
            frame = read_partition(platform, DATASET, day)
        except (DataValidationError, ValueError):
            continue  # a broken newest day: the one before still says what is popular
        counts = frame.groupby(["request_district", "restaurant_id"])["engaged"].agg(["sum", "count"])
        return {(str(d), str(r)): (int(s), int(n)) for (d, r), s, n in
                zip(counts.index, counts["sum"], counts["count"], strict=False)}, day
    return {}, None


