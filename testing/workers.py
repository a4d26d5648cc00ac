"""Real Celery worker processes, beat, a private Redis and the fake provider, for
integration tests and the benchmark.

The workers are separate `celery -A newsroom worker` processes (prefork, one
child each), started in their own process group so they can be stopped or
SIGKILLed without touching anything else on the machine. They read the same
database the test (or benchmark) uses, given as DATABASE_URL, and send through
anymail's real Mailgun backend to the fake provider in testing/fakeprovider.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from testing.fakeprovider import FakeProvider, FakeProviderClient

ROOT = Path(__file__).resolve().parents[1]
CELERY = str(Path(sys.executable).with_name("celery"))
SENDER_DOMAIN = "mg.newsroom.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll check() until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def provider_settles(provider: FakeProviderClient, seconds: float = 2.0) -> int:
    """Wait until the provider has accepted nothing new for `seconds`; returns its recipient count."""
    last = -1

    def quiet() -> bool:
        nonlocal last
        now = provider.stats()["recipients"]
        if now == last:
            return True
        last = now
        return False

    wait_until(quiet, timeout=60, interval=seconds, what="the provider to stop receiving")
    return last


def database_url(config: Any = None) -> str:
    """A DATABASE_URL for Django's current default database (the test one, once created)."""
    from django.conf import settings

    db: dict[str, Any] = dict(config or settings.DATABASES["default"])
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{db['NAME']}"


def worker_env(*, provider_url: str, redis_url: str, db_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for a worker: the given database and Redis, Mailgun pointed at the fake provider."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "newsroom.settings",
            "DATABASE_URL": db_url or database_url(),
            "REDIS_URL": redis_url,
            "CACHE_URL": "locmem",
            "DEBUG": "0",  # DEBUG keeps every query in memory
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "worker-" + uuid.uuid4().hex * 2,
            "SECURE_SSL_REDIRECT": "0",
            "NEWSROOM_TESTING": "1",
            "ANYMAIL_PROVIDER": "mailgun",
            "ANYMAIL_API_KEY": "key-fake",
            "ANYMAIL_SENDER_DOMAIN": SENDER_DOMAIN,
            "ANYMAIL_API_URL": provider_url.rstrip("/") + "/v3",
            "DEFAULT_FROM_EMAIL": f"The Newsroom Daily <news@{SENDER_DOMAIN}>",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "SEND_POLL_SECONDS": "1",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (the prefork pool processes of a worker)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return children


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set size) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class CeleryProcess:
    name: str
    args: list[str]
    log: Path
    ready_text: str
    popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self, env: dict[str, str]) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_text()[-3000:]}")
            return self.ready_text in self.log_text()

        wait_until(ready, timeout=timeout, what=f"{self.name} to be ready")

    def signal_group(self, sig: int) -> None:
        if self.alive():
            os.killpg(self.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        if self.popen is None:
            return
        self.signal_group(signal.SIGTERM)  # warm shutdown: finish the current task, requeue nothing twice
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.popen.wait(timeout=10)
        # Prefork children leave with their parent; reap any straggler of this group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


@dataclass
class Workers:
    """A set of worker processes (and optionally beat) sharing one environment."""

    env: dict[str, str]
    log_dir: Path
    procs: dict[str, CeleryProcess] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    #: An ISO moment: the processes run on a clock moved there (testing.moved_clock).
    clock: str | None = None
    #: Pool processes per worker (prefork children).
    concurrency: int = 1

    def _celery(self) -> list[str]:
        return [sys.executable, "-m", "testing.moved_clock", self.clock] if self.clock else [CELERY]

    def _worker(self, name: str) -> CeleryProcess:
        hostname = f"{name}-{self.run_id}@%h"
        args = [
            *self._celery(),
            "-A",
            "newsroom",
            "worker",
            "--pool=prefork",
            f"--concurrency={self.concurrency}",
            "-Q",
            "celery",
        ]
        args += [f"--hostname={hostname}", "--loglevel=INFO", "--without-mingle", "--without-gossip"]
        return CeleryProcess(name, args, self.log_dir / f"{name}.log", ready_text=" ready.")

    def start(self, count: int = 2, *, beat: bool = False, timeout: float = 60) -> Workers:
        for i in range(1, count + 1):
            self.start_worker(f"w{i}", wait=False)
        if beat:
            self.start_beat(wait=False)
        for proc in self.procs.values():
            proc.wait_ready(timeout)
        return self

    def start_worker(self, name: str, *, wait: bool = True, timeout: float = 60) -> CeleryProcess:
        proc = self._worker(name)
        self.procs[name] = proc
        proc.start(self.env)
        if wait:
            proc.wait_ready(timeout)
        return proc

    def start_beat(self, *, wait: bool = True, timeout: float = 60) -> CeleryProcess:
        schedule = self.log_dir / f"beat-{self.run_id}.schedule"
        args = [*self._celery(), "-A", "newsroom", "beat", "--loglevel=INFO", f"--schedule={schedule}", "--pidfile="]
        proc = CeleryProcess("beat", args, self.log_dir / "beat.log", ready_text="beat: Starting")
        self.procs["beat"] = proc
        proc.start(self.env)
        if wait:
            proc.wait_ready(timeout)
        return proc

    def pool_pids(self, name: str) -> list[int]:
        return child_pids(self.procs[name].pid)

    def kill(self, name: str) -> None:
        """SIGKILL a worker and its pool children at once, as a crashed machine would."""
        proc = self.procs[name]
        proc.signal_group(signal.SIGKILL)
        assert proc.popen is not None
        proc.popen.wait(timeout=10)

    def kill_pool_child(self, name: str) -> int:
        """SIGKILL the pool process running the task; the worker itself survives and replaces it."""
        pids = wait_until(lambda: self.pool_pids(name), timeout=10, what=f"{name}'s pool process")
        os.kill(pids[0], signal.SIGKILL)
        return int(pids[0])

    def restart(self, name: str, timeout: float = 60) -> CeleryProcess:
        self.procs[name].stop()
        return self.start_worker(name, timeout=timeout)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"==== {n} ====\n{p.log_text()[-4000:]}" for n, p in self.procs.items())


@dataclass
class RedisServer:
    """A private redis-server on a free port, with persistence, so a test can restart it."""

    workdir: Path
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"]
        with (self.workdir / "redis.log").open("ab") as out:
            self.popen = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self.ping, timeout=timeout, what=f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


# --- pytest fixtures ------------------------------------------------------------


@pytest.fixture
def fake_provider() -> Iterator[FakeProviderClient]:
    """The fake Mailgun/Postmark API on a free port of 127.0.0.1, in a thread of the test process."""
    server = FakeProvider().start()
    try:
        yield FakeProviderClient(server.url)
    finally:
        server.stop()


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def worker_processes(
    transactional_db: None, fake_provider: FakeProviderClient, tmp_path: Path
) -> Iterator[Callable[..., Workers]]:
    """A factory: workers = worker_processes(count=2, beat=False, flush_redis=True, **env overrides).

    The processes see the test database (transactional_db, so they see committed
    rows) and the test Redis (flushed first, so no message of an earlier test is
    left), and are stopped before the database is flushed.
    """
    from django.conf import settings

    started: list[Workers] = []

    def start(
        count: int = 2,
        *,
        beat: bool = False,
        redis_url: str | None = None,
        flush_redis: bool = True,
        clock: str | None = None,
        **extra: str,
    ) -> Workers:
        url = redis_url or settings.REDIS_URL
        if flush_redis:
            _flush_redis(url)
        env = worker_env(provider_url=fake_provider.url, redis_url=url, **extra)
        workers = Workers(env, tmp_path, clock=clock)
        started.append(workers)
        return workers.start(count, beat=beat)

    yield start
    for workers in started:
        workers.stop()


# --- sending through the workers -------------------------------------------------


def kick_due_sends() -> None:
    """Ask a worker to run the beat task now instead of waiting for the next poll."""
    from newsroom.celery import app

    app.send_task("delivery.start_due_sends")


def delivery_counts(send_id: int) -> dict[str, int]:
    from django.db.models import Count

    from delivery.models import Delivery

    rows = Delivery.objects.filter(send_id=send_id).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def send_status(send_id: int) -> str:
    from delivery.models import Send

    return str(Send.objects.values_list("status", flat=True).get(pk=send_id))


def wait_for_send_end(send_id: int, *, timeout: float, workers: Workers | None = None) -> str:
    """Wait until the Send is done, failed or cancelled; on timeout show the worker logs."""
    from delivery.models import SendStatus

    ended = {SendStatus.DONE, SendStatus.FAILED, SendStatus.CANCELLED}
    try:
        return str(wait_until(lambda: send_status(send_id) in ended and send_status(send_id), timeout=timeout))
    except TimeoutError as exc:
        logs = workers.logs() if workers else ""
        raise TimeoutError(f"{exc}; status {send_status(send_id)}, rows {delivery_counts(send_id)}\n{logs}") from None


def send_to_new_list(readers: int, *, at: Any = None, editor: Any = None) -> Any:
    """A Send of a new approved issue of the reference shape to a new list of `readers` readers.

    The readers are reader1@example.org … reader<n>@example.org (testing.audience)."""
    from django.utils import timezone

    from delivery.services import send_create
    from issues.models import IssueStatus
    from testing.audience import readers_create
    from testing.factories import MailingListFactory, make_editor, make_full_issue

    mailing_list = MailingListFactory.create(name="Daily")
    readers_create(count=readers, mailing_list=mailing_list)
    issue = make_full_issue(status=IssueStatus.APPROVED)
    return send_create(
        issue=issue,
        lists=[mailing_list],
        segment=None,
        at=at or timezone.now(),
        acting_user=editor or make_editor(),
    )


def run_task_here(name: str, *args: Any) -> None:
    """Run a task synchronously in this process (autodiscovering the apps' tasks first)."""
    from newsroom.celery import app

    app.loader.import_default_modules()
    app.tasks[name].apply(args=args).get()
