"""A Redis that accepts connections and then never answers (a failover in progress, a dead
NAT entry) must not hang pages or workers: the cache and broker connections have timeouts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cache import RedisCache

ROOT = Path(__file__).resolve().parents[2]


def production_redis_settings() -> dict:
    """CACHES and the broker's transport options as settings.py builds them with REDIS_URL set."""
    code = (
        "import json; from newsroom import settings as s; "
        "print(json.dumps({'cache': s.CACHES['default'], 'broker': s.CELERY_BROKER_TRANSPORT_OPTIONS}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "CACHE_URL"}  # the cache follows REDIS_URL
    env.update({"REDIS_URL": "redis://127.0.0.1:6379/0", "DEBUG": "1"})
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says anything."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_production_settings_give_redis_connections_timeouts():
    found = production_redis_settings()
    assert found["cache"]["BACKEND"] == "core.cache.RedisCache"
    assert found["cache"]["OPTIONS"]["socket_timeout"] > 0
    assert found["broker"]["socket_timeout"] > 0
    assert found["broker"]["socket_connect_timeout"] > 0


def test_a_cache_read_from_a_redis_that_never_answers_is_a_miss_not_a_hang(silent_server: int):
    options = production_redis_settings()["cache"]["OPTIONS"]
    cache = RedisCache(f"redis://127.0.0.1:{silent_server}/0", {"OPTIONS": options})
    answer: list[object] = []
    reader = threading.Thread(target=lambda: answer.append(cache.get("page", "miss")), daemon=True)

    reader.start()
    reader.join(timeout=60)  # without a socket timeout the read would wait for ever

    assert answer == ["miss"]
