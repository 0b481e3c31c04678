"""The answer caches: the in-process LRU and Redis (its own DB index, 11, on the machine's
Redis; a Redis that is down fails these tests with the cache's own message)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs

import boto3
import pytest
import redis

from findining_mlops.errors import ConfigurationError
from findining_mlops.serving.client.cache import ElastiCacheIAMAuth, LRUCache, RedisCache, cache_from_env

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


STACK_CACHE_TF = Path(__file__).resolve().parents[3] / "infra" / "terraform" / "cache.tf"


def test_an_iam_token_is_a_connect_request_for_the_user_presigned_for_fifteen_minutes():
    session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                                    region_name="eu-west-1")
    user, token = ElastiCacheIAMAuth("app-user", "findining-answers", "eu-west-1", session=session).get_credentials()

    host, _, query = token.partition("/?")
    signed = parse_qs(query)
    assert (user, host) == ("app-user", "findining-answers")
    assert signed["Action"] == ["connect"] and signed["User"] == ["app-user"]
    assert signed["X-Amz-Expires"] == ["900"] and signed["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert signed["X-Amz-Credential"][0].endswith("/eu-west-1/elasticache/aws4_request")
    assert not token.startswith("https://")


@pytest.fixture
def stack_cache_user():
    """A user on the machine's Redis with the stack's access string for the app's IAM user (a
    local Redis knows no IAM, so it takes any password for this user, as ElastiCache takes a
    valid token)."""
    access = re.search(r'access_string = "on ([^"]+)"\s+authentication_mode \{\s+type = "iam"',
                       STACK_CACHE_TF.read_text()).group(1)
    admin = redis.Redis.from_url(REDIS_URL)
    user = f"findining-test-{uuid.uuid4().hex[:8]}"
    admin.execute_command("ACL", "SETUSER", user, "on", "nopass", *access.split())
    yield user
    admin.execute_command("ACL", "DELUSER", user)


def test_with_iam_auth_the_cache_signs_in_as_the_urls_user_and_may_only_touch_answers(stack_cache_user,
                                                                                     monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    cache = cache_from_env({"FINDINING_CACHE_URL": f"redis://{stack_cache_user}@127.0.0.1:6379/11",
                            "FINDINING_CACHE_IAM_AUTH": "findining-answers", "FINDINING_AWS_REGION": "eu-west-1"})

    key = f"findining:answer:test-{uuid.uuid4().hex}"
    cache.put(key, b"ranked", ttl_s=30)
    assert cache.get(key) == b"ranked"
    assert cache._redis.client_info()["user"] == stack_cache_user
    with pytest.raises(redis.exceptions.NoPermissionError):
        cache._redis.set("other:key", b"x")


def test_iam_auth_needs_the_user_in_the_url():
    with pytest.raises(ConfigurationError, match="must name the ElastiCache user"):
        cache_from_env({"FINDINING_CACHE_URL": "rediss://cache.example:6379/0",
                        "FINDINING_CACHE_IAM_AUTH": "findining-answers", "FINDINING_AWS_REGION": "eu-west-1"})
