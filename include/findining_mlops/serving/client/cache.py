"""Model answers cached under everything that decides them, so a cached answer is only
ever one the live endpoint could give that user now.

The key hashes the endpoint's live configuration (its endpoint config, which names the
variants and their model versions, and the variants' current weights: a canary step or a
promotion changes it), the variant the user is pinned to (an A/B arm), the model and the
request's content. Entries live ``cache_ttl_s`` seconds (per model, in the catalog).

In-process LRU by default; Redis when ``FINDINING_CACHE_URL`` names one (shared by every
app process), e.g. ``redis://127.0.0.1:6379/0``. A Redis that fails at run time is a miss,
not an error: the cache never costs the app an answer.

On AWS the stack's ElastiCache (``infra/terraform/cache.tf``) takes no password: with
``FINDINING_CACHE_IAM_AUTH`` set to its replication group id, each new connection
authenticates as the URL's user with an IAM token (a SigV4-presigned ``connect`` request,
valid 15 minutes) signed with the process's AWS credentials.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from findining_mlops.errors import ConfigurationError
from findining_mlops.platform.ports import Endpoint

log = logging.getLogger(__name__)
CACHE_URL_ENV = "FINDINING_CACHE_URL"
CACHE_IAM_AUTH_ENV = "FINDINING_CACHE_IAM_AUTH"
IAM_TOKEN_TTL_S = 900  # ElastiCache accepts a token for 15 minutes; a connection outlives it
DEFAULT_MAX_ENTRIES = 50_000
KEY_PREFIX = "findining:answer:"


def cache_key(model_name: str, endpoint: Endpoint, target_variant: str | None, request: dict) -> str:
    live = {"config": endpoint.config_name, "weights": {v.variant_name: v.weight for v in endpoint.variants},
            "versions": {v.variant_name: v.model_version for v in endpoint.variants}}
    payload = json.dumps([model_name, endpoint.name, live, target_variant, request], sort_keys=True,
                         ensure_ascii=False, default=str)
    return KEY_PREFIX + hashlib.sha256(payload.encode()).hexdigest()


class AnswerCache(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes, ttl_s: float) -> None: ...


class LRUCache:
    """Thread-safe, bounded, per process; an expired entry is a miss."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, clock=time.monotonic):
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, value: bytes, ttl_s: float) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


class RedisCache:
    """Answers in Redis with its own expiry (``SET ... PX``)."""

    def __init__(self, url: str, credential_provider=None):
        import redis

        self.url = url
        self._redis = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.5,
                                           credential_provider=credential_provider)
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise ConfigurationError(f"the answer cache's Redis at {url} is not reachable ({exc}); start it, fix "
                                     f"{CACHE_URL_ENV}, or unset it to cache in process") from exc
        self._errors = (redis.RedisError,)

    def get(self, key: str) -> bytes | None:
        try:
            return self._redis.get(key)
        except self._errors as exc:
            log.warning("answer cache %s: get failed, answering from the model: %s", self.url, exc)
            return None

    def put(self, key: str, value: bytes, ttl_s: float) -> None:
        try:
            self._redis.set(key, value, px=max(1, int(ttl_s * 1000)))
        except self._errors as exc:
            log.warning("answer cache %s: put failed: %s", self.url, exc)


def cache_from_env(env: Mapping[str, str]) -> AnswerCache:
    url = env.get(CACHE_URL_ENV, "").strip()
    if not url:
        return LRUCache()
    cache_name = env.get(CACHE_IAM_AUTH_ENV, "").strip()
    if not cache_name:
        return RedisCache(url)
    parts = urlsplit(url)
    if not parts.username:
        raise ConfigurationError(f"{CACHE_IAM_AUTH_ENV} is set, so {CACHE_URL_ENV} must name the ElastiCache user, "
                                 f"e.g. rediss://<user>@<host>:6379/0 (terraform output -raw answer_cache_url)")
    region = env.get("FINDINING_AWS_REGION") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    provider = ElastiCacheIAMAuth(unquote(parts.username), cache_name, region)
    return RedisCache(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), provider)


class ElastiCacheIAMAuth:
    """redis-py's ``CredentialProvider`` for an ElastiCache user with IAM authentication: the
    user name, and as password a ``connect`` request for it presigned with SigV4 (AWS's
    documented scheme), signed anew for each connection."""

    def __init__(self, user: str, cache_name: str, region: str | None, session=None):
        import boto3

        self.user, self.cache_name = user, cache_name
        self._session = session or boto3.session.Session(region_name=region)
        self.region = region or self._session.region_name
        if not self.region:
            raise ConfigurationError(f"{CACHE_IAM_AUTH_ENV} needs the cache's region: set FINDINING_AWS_REGION")

    def get_credentials(self) -> tuple[str, str]:
        from botocore.model import ServiceId
        from botocore.signers import RequestSigner

        credentials = self._session.get_credentials()
        if credentials is None:
            raise ConfigurationError(f"{CACHE_IAM_AUTH_ENV}: no AWS credentials to sign the cache's IAM token with")
        signer = RequestSigner(ServiceId("elasticache"), self.region, "elasticache", "v4", credentials,
                               self._session.events)
        query = urlencode({"Action": "connect", "User": self.user})
        url = signer.generate_presigned_url(
            {"method": "GET", "url": f"https://{self.cache_name}/?{query}", "body": {}, "headers": {}, "context": {}},
            operation_name="connect", expires_in=IAM_TOKEN_TTL_S, region_name=self.region)
        return self.user, url.removeprefix("https://")
