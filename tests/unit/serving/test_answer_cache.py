"""The answer caches: the in-process LRU and Redis (its own DB index, 11, on the machine's
Redis; a Redis that is down fails these tests with the cache's own message)."""

from __future__ import annotations

import uuid

import pytest

from findining_mlops.errors import ConfigurationError
from findining_mlops.serving.cache import LRUCache, RedisCache, cache_from_env

REDIS_URL = "redis://127.0.0.1:6379/11"


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_the_lru_cache_forgets_expired_entries_and_the_least_recently_used():
    clock = Clock()
    cache = LRUCache(max_entries=2, clock=clock)
    cache.put("a", b"1", ttl_s=10)
    cache.put("b", b"2", ttl_s=1)
    assert cache.get("a") == b"1"  # a is now the most recently used
    cache.put("c", b"3", ttl_s=10)  # evicts b
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1", None, b"3")
    clock.now = 10.0
    assert cache.get("a") is None


def test_redis_keeps_answers_for_their_ttl():
    cache = RedisCache(REDIS_URL)
    key = f"findining:answer:test-{uuid.uuid4().hex}"
    assert cache.get(key) is None
    cache.put(key, b'{"label": "positive"}', ttl_s=30)
    assert cache.get(key) == b'{"label": "positive"}'
    assert 0 < cache._redis.pttl(key) <= 30_000


def test_the_environment_chooses_redis_or_the_in_process_cache():
    assert isinstance(cache_from_env({}), LRUCache)
    assert isinstance(cache_from_env({"FINDINING_CACHE_URL": REDIS_URL}), RedisCache)


def test_a_redis_that_cannot_be_reached_is_a_clear_configuration_error():
    with pytest.raises(ConfigurationError, match="not reachable .* unset it to cache in process"):
        RedisCache("redis://127.0.0.1:1/11")
