"""pytest plugin loaded before pytest-django configures Django.

It finds PostgreSQL and Redis on 127.0.0.1 when DATABASE_URL/REDIS_URL are
unset, and decides what happens to tests that need them (or Chromium,
SpamAssassin or the Nu HTML checker):
skip with a message saying how to enable them, or, with REQUIRE_SERVICES=1,
fail the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from pathlib import Path

import pytest

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# scripts/ensure-vnu installs the `vnu-jar` npm package here.
VNU_JAR = Path(__file__).resolve().parent.parent / ".tools/npm/node_modules/vnu-jar/build/dist/vnu.jar"
# scripts/ensure-axe installs the `axe-core` npm package here.
AXE_JS = Path(__file__).resolve().parent.parent / ".tools/axe/node_modules/axe-core/axe.min.js"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _postgres_usable(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=2):
            return True
    except Exception:
        return False


def _redis_usable(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:
        return False


def required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")
    os.environ["NEWSROOM_TESTING"] = "1"
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "test-only-" + uuid.uuid4().hex * 2)
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ["CACHE_URL"] = "locmem"
    os.environ.setdefault("NEWSROOM_VAR_DIR", f"/tmp/newsroom-test-{uuid.uuid4().hex[:8]}")
    os.environ.setdefault("ANYMAIL_PROVIDER", "outbox")
    if "DATABASE_URL" not in os.environ and _port_open("127.0.0.1", 5432) and _postgres_usable(LOCAL_POSTGRES):
        os.environ["DATABASE_URL"] = LOCAL_POSTGRES
    if "REDIS_URL" not in os.environ and _port_open("127.0.0.1", 6379) and _redis_usable(LOCAL_REDIS):
        os.environ["REDIS_URL"] = LOCAL_REDIS


def services_available() -> tuple[bool, str]:
    db = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    missing = []
    if not db.startswith(("postgres://", "postgresql://")) or not _postgres_usable(db):
        missing.append("PostgreSQL (DATABASE_URL)")
    if not redis_url or not _redis_usable(redis_url):
        missing.append("Redis (REDIS_URL)")
    if missing:
        return False, (
            "needs " + " and ".join(missing) + ": set DATABASE_URL=postgres://… and REDIS_URL=redis://…, "
            "or start them on 127.0.0.1:5432 / 6379"
        )
    return True, ""


def browser_available() -> tuple[bool, str]:
    if CHROMIUM.exists():
        return True, ""
    return False, f"needs Chromium at {CHROMIUM}: run 'apt-get install -y chromium' (or set CHROMIUM_PATH)"


def spamassassin_available() -> tuple[bool, str]:
    if shutil.which("spamassassin"):
        return True, ""
    return (
        False,
        "needs Debian's spamassassin on the PATH: run 'apt-get install -y spamassassin' (make test does as root)",
    )


def vnu_jar() -> Path:
    return Path(os.environ.get("VNU_JAR", str(VNU_JAR)))


def vnu_available() -> tuple[bool, str]:
    missing = []
    if not shutil.which("java"):
        missing.append("a Java runtime ('apt-get install -y default-jre-headless')")
    if not vnu_jar().is_file():
        missing.append(f"the Nu HTML checker at {vnu_jar()} (scripts/ensure-vnu, or set VNU_JAR)")
    if missing:
        return False, "needs " + " and ".join(missing) + "; make test installs them as root"
    return True, ""


def axe_js() -> Path:
    return Path(os.environ.get("AXE_JS", str(AXE_JS)))


def axe_available() -> tuple[bool, str]:
    if axe_js().is_file():
        return True, ""
    return False, f"needs axe-core at {axe_js()} (scripts/ensure-axe, or set AXE_JS); make test installs it"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs real PostgreSQL, Redis and a Celery worker")
    config.addinivalue_line("markers", "browser: drives Chromium through Playwright")
    config.addinivalue_line("markers", "spamassassin: scores emails with Debian's spamassassin (local rules)")
    config.addinivalue_line("markers", "vnu: checks pages with the Nu HTML checker (vnu.jar on Java)")
    config.addinivalue_line("markers", "axe: checks pages with axe-core in Chromium")


_checked: dict[str, tuple[bool, str]] = {}


def pytest_runtest_setup(item: pytest.Item) -> None:
    checks = (
        ("integration", services_available),
        ("browser", browser_available),
        ("spamassassin", spamassassin_available),
        ("vnu", vnu_available),
        ("axe", axe_available),
    )
    for marker, check in checks:
        if item.get_closest_marker(marker) is None:
            continue
        if marker not in _checked:
            _checked[marker] = check()
        ok, why = _checked[marker]
        if not ok:
            if required():
                pytest.fail(f"REQUIRE_SERVICES=1 and this {marker} test {why}", pytrace=False)
            pytest.skip(f"{marker} test skipped: {why}")
