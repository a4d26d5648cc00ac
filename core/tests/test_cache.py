from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from testing.factories import make_full_issue
from testing.fixtures import CLOSED_REDIS_URL


@pytest.fixture
def redis_cache_down(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": CLOSED_REDIS_URL}}


def test_reads_miss_and_writes_are_skipped_while_redis_is_down(redis_cache_down: None) -> None:
    cache.set("k", "v")
    cache.set_many({"a": 1})
    assert cache.get("k", "default") == "default"
    assert cache.get_many(["k", "a"]) == {}
    assert cache.delete("k") is False
    cache.delete_many(["k", "a"])


def test_counters_still_raise_so_rate_limits_cannot_be_faked(redis_cache_down: None) -> None:
    import redis.exceptions

    assert cache.add("count", 1) is False
    with pytest.raises(redis.exceptions.ConnectionError):
        cache.incr("count")


@pytest.mark.django_db
def test_public_pages_are_built_from_the_database_while_redis_is_down(redis_cache_down: None) -> None:
    issue = make_full_issue(status="sent")
    client = Client()
    for url in ["/", "/newsletter/", issue.get_absolute_url(), "/subscribe/"]:
        response = client.get(url)
        assert response.status_code == 200, url
    assert issue.title in client.get("/").content.decode()


def test_a_redis_cache_url_gets_the_backend_that_degrades() -> None:
    code = "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "newsroom.settings", "CACHE_URL": "redis://127.0.0.1:6379/9"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "core.cache.RedisCache"
