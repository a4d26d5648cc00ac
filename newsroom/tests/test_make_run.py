"""The zero-set-up default that `make run` relies on, tried with real processes:
no REDIS_URL means kombu's file-system broker, and a task enqueued by one
process is executed by a worker in another and lands in the outbox."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def laptop_env(tmp_path: Path) -> dict[str, str]:
    # Only what a newcomer's shell would have: no DATABASE_URL, no REDIS_URL.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "NEWSROOM_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180
    )


def outbox_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute('SELECT "to", subject FROM newsroom_outboxmessage').fetchall()


def test_procfile_starts_web_worker_beat_and_the_demo_webhook_receiver_on_the_make_address():
    procfile = (BASE_DIR / "Procfile.dev").read_text()
    makefile = (BASE_DIR / "Makefile").read_text()

    assert [line.split(":")[0] for line in procfile.splitlines() if line.strip()] == ["web", "worker", "beat", "hooks"]
    assert "manage.py demo_webhook_receiver" in procfile
    assert "runserver $HOST:$PORT" in procfile
    assert "export HOST PORT" in makefile
    assert "manage.py load_demo" in makefile


def test_a_task_queued_without_redis_is_run_by_a_separate_worker(tmp_path):
    env = laptop_env(tmp_path)
    migrated = manage(env, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "newsroom", "worker", "--pool=threads", "-c", "1", "-l", "INFO"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        queued = manage(env, "send_check_email", "ops@example.org")
        assert queued.returncode == 0, queued.stderr
        assert "Queued a check email to ops@example.org." in queued.stdout
        rows: list[tuple[str, str]] = []
        deadline = time.monotonic() + 60
        while not rows and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
            rows = outbox_rows(tmp_path / "db.sqlite3")
    finally:
        worker.send_signal(signal.SIGTERM)
        log, _ = worker.communicate(timeout=60)

    assert rows == [("ops@example.org", "The Newsroom Daily: mail delivery works")], log
    assert "transport:   filesystem://" in log
    assert "Warm shutdown" in log
    assert (tmp_path / "var" / "broker" / "out").is_dir()
