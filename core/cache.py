"""The Redis cache, made to degrade: while Redis does not answer, pages are built from the database.

In the default set-up Redis is the cache and the task queue at once, so when it
is down every page would fail on its first cache read (the header's links, the
cached page fragments, the subscribe form's lists) before anyone could be told
what is wrong. Here a read that fails is a miss and a write that fails is
skipped (``add`` says it added nothing), with a warning in the log. Counters
(``incr``, ``decr``: the rate limits) still raise, because a count cannot be
made up; their callers decide.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.exceptions
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

logger = logging.getLogger(__name__)


def _skipped(operation: str, exc: Exception) -> None:
    logger.warning("Cache unavailable, %s skipped: %s", operation, exc)


class RedisCache(DjangoRedisCache):
    """django.core.cache.backends.redis.RedisCache whose reads and writes survive Redis being down."""

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except redis.exceptions.RedisError as exc:
            _skipped("get", exc)
            return default

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        try:
            return super().get_many(keys, version)
        except redis.exceptions.RedisError as exc:
            _skipped("get_many", exc)
            return {}

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:  # type: ignore[override]
        try:
            return super().add(key, value, timeout, version)
        except redis.exceptions.RedisError as exc:
            _skipped("add", exc)
            return False

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:  # type: ignore[override]
        try:
            super().set(key, value, timeout, version)
        except redis.exceptions.RedisError as exc:
            _skipped("set", exc)

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:  # type: ignore[override]
        try:
            return super().set_many(data, timeout, version)
        except redis.exceptions.RedisError as exc:
            _skipped("set_many", exc)
            return list(data)

    def delete(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().delete(key, version)
        except redis.exceptions.RedisError as exc:
            _skipped("delete", exc)
            return False

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        try:
            super().delete_many(keys, version)
        except redis.exceptions.RedisError as exc:
            _skipped("delete_many", exc)
