"""Fixtures every app's tests may use: personas, a real Celery worker, a browser."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing import factories

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Tests hash passwords with MD5: PBKDF2's million rounds cost about 0.25 s a password here,
    and the suite creates and signs in users by the hundred. Hashes made otherwise still verify."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture(autouse=True)
def _untracked_sends(settings: Any) -> None:
    """Sends made in tests keep the issue's own links unless a test asks for first-party
    tracking (delivery/tests/test_firstparty.py passes track_clicks / track_opens)."""
    settings.FIRST_PARTY_TRACKING = False
    settings.FIRST_PARTY_OPEN_PIXEL = False


@pytest.fixture
def editor(db: None) -> Any:
    return factories.make_editor()


@pytest.fixture
def contributor(db: None) -> Any:
    return factories.make_contributor()


@pytest.fixture
def full_issue(db: None) -> Any:
    return factories.make_full_issue()


@pytest.fixture
def confirmed_reader(db: None) -> Any:
    return factories.make_confirmed_reader()


@pytest.fixture
def pending_reader(db: None) -> Any:
    return factories.make_pending_reader()


@pytest.fixture
def celery_eager(settings: Any) -> Iterator[None]:
    """Run tasks in-process (unit tests); integration tests use celery_worker."""
    from newsroom.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[Any]:
    """A real Celery worker thread consuming from the real broker (Redis)."""
    from celery.contrib.testing.worker import start_worker

    from newsroom.celery import app

    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


# A port where nothing listens: connecting to it is refused at once, as when Redis is down.
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


class BrokerOutage:
    """Celery pointed at a closed port, as when the broker (Redis) is down; ``end()`` brings it back."""

    def __init__(self) -> None:
        from newsroom.celery import app

        self.app = app
        self.saved = app.conf.broker_url, app.conf.task_always_eager
        app.conf.update(broker_url=CLOSED_REDIS_URL, task_always_eager=False)
        self._drop_pools()

    def _drop_pools(self) -> None:
        # Celery keeps its connection and producer pools; new ones use the broker URL now set.
        self.app._pool = None  # type: ignore[attr-defined]
        self.app.amqp._producer_pool = None  # type: ignore[attr-defined]

    def end(self, *, eager: bool | None = None) -> None:
        """The broker is back (``eager=True``: and tasks now run in-process, as with celery_eager)."""
        url, was_eager = self.saved
        self.app.conf.update(broker_url=url, task_always_eager=was_eager if eager is None else eager)
        self._drop_pools()


@pytest.fixture
def broker_down() -> Iterator[BrokerOutage]:
    """Publishing a task fails as it does when the broker (Redis) is down."""
    outage = BrokerOutage()
    yield outage
    outage.end()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's
    # async-safety guard would otherwise refuse the test's own ORM calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    in_flight: set[Any] = set()
    pg.on("request", lambda request: in_flight.add(request))
    pg.on("requestfinished", lambda request: in_flight.discard(request))
    pg.on("requestfailed", lambda request: in_flight.discard(request))
    yield pg
    _leave_and_let_last_requests_finish(pg, in_flight)
    context.close()


def _leave_and_let_last_requests_finish(pg: Any, in_flight: set[Any]) -> None:
    """A page may still be talking to the live server when its test ends (an
    autosave, the composer's final save on pagehide). Leave it for a blank page
    and wait for every answer, so that no request is writing while the test
    database is flushed (PostgreSQL would see a deadlock)."""
    with contextlib.suppress(Exception):  # a page that is already gone sends nothing more
        pg.goto("about:blank")
    for request in list(in_flight):
        if request.url.startswith(("http://", "https://")):
            # Waits for the answer; one aborted with its page never reached the server.
            with contextlib.suppress(Exception):
                request.response()
    _database_settles()


def _database_settles(timeout: float = 10.0) -> None:
    """A request sent with keepalive as its page went away (the composer's saves)
    has no answer Playwright can wait for: wait until no other connection to the
    test database is busy, twice in a row, before the test's teardown flushes it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    busy = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND state NOT IN ('idle')"
    )
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 2 and time.monotonic() < deadline:
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            cursor.execute(busy)
            quiet = quiet + 1 if cursor.fetchone()[0] == 0 else 0
        time.sleep(0.2)


def screenshot(page: Any, name: str) -> Path:
    """Keep a screenshot under test-artifacts/ for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def admin_login(page: Any, live_server: Any, username: str, password: str = factories.PASSWORD) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
