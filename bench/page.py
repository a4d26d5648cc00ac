"""Issue page benchmark: requests per second served by gunicorn on PostgreSQL.

    python -m bench.page [--seconds 8] [--clients 4]

Drops and re-creates a throwaway database (newsroom_bench_page; BENCH_PAGE_DATABASE_URL
overrides it), migrates it, collects static files with the production storage
(hashed, compressed names), creates one issue of the reference shape (the demo's sent
issue, about 1,700 words), and starts
gunicorn (2 sync workers, DEBUG=0) on a free port of 127.0.0.1. Client processes
(http.client, one connection per request, as gunicorn's sync workers close each)
then drive each URL for a fixed time. The page is measured with the fragment cache
on (Redis, as in production) and off (PAGE_CACHE_SECONDS=0, a second gunicorn),
beside two baselines from the same server: /health/ (one query) and a static file
served by WhiteNoise; and a revalidation of the cached page with its ETag (304),
as a CDN in front would ask. Target: the cached page at least 0.8x /health/.
Everything it starts is stopped before it returns.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

BENCH_DATABASE_URL = os.environ.get("BENCH_PAGE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsroom_bench_page")
BENCH_CACHE_URL = os.environ.get("BENCH_PAGE_CACHE_URL", "redis://127.0.0.1:6379/10")
ROOT = Path(__file__).resolve().parents[1]
ISSUE_SLUG = "bench-reference-issue"


def environment(static_root: str, *, cache_seconds: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "DATABASE_URL": BENCH_DATABASE_URL,
        "CACHE_URL": BENCH_CACHE_URL,
        "CACHE_KEY_PREFIX": "bench-page",
        "REDIS_URL": BENCH_CACHE_URL,
        "PAGE_CACHE_SECONDS": str(cache_seconds),
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-" + uuid.uuid4().hex * 2,
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_ROOT": static_root,
        "NEWSROOM_VAR_DIR": static_root + "-var",
    }


def recreate_database() -> None:
    import psycopg

    name = BENCH_DATABASE_URL.rsplit("/", 1)[1]
    admin_url = BENCH_DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_issue() -> None:
    """The demo's sent issue (five lead stories, a sponsored highlight, a tool,
    nine quick links: about 1,700 words) with a cover, tags and an author.
    Runs inside the bench's environment, after django.setup()."""
    from django.core.cache import cache
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from demo.content import SENT_ISSUE as data
    from demo.loader import cover_image_png
    from issues.models import Author, Issue, IssueStatus, Section, SectionItem, Tag
    from issues.services import issue_refresh_stats

    fields = ("title", "subject", "preheader", "summary", "canonical_url", "cover_alt")
    issue = Issue.objects.create(
        slug=ISSUE_SLUG,
        status=IssueStatus.SENT,
        publish_date=timezone.now() - timezone.timedelta(hours=1),
        **{name: data[name] for name in fields},
    )
    issue.cover_image.save("bench.png", ContentFile(cover_image_png(title=issue.title, seed=0)))
    issue.tags.add(*(Tag.objects.create(name=name, slug=name.lower()) for name in data["tags"]))
    issue.authors.add(Author.objects.create(name="Bench Writer", slug="bench-writer"))
    for position, section in enumerate(data["sections"]):
        row = Section.objects.create(
            issue=issue, position=position, **{k: v for k, v in section.items() if k != "items"}
        )
        items = [SectionItem(section=row, position=n, **item) for n, item in enumerate(section["items"])]
        SectionItem.objects.bulk_create(items)
    issue = issue_refresh_stats(issue=issue)
    print(f"bench issue: {len(data['sections'])} sections, {issue.word_count} words, {issue.reading_minutes} min read")
    cache.clear()


def prepare(env: dict[str, str]) -> None:
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    make = "import django; django.setup(); from bench.page import make_issue; make_issue()"
    subprocess.run([sys.executable, "-c", make], env=env, check=True, cwd=ROOT)


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    cmd = [gunicorn, "newsroom.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited at start")
        try:
            if fetch(port, "/health/")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("gunicorn did not answer /health/ within 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def fetch(port: int, path: str, etag: str = "") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Accept-Encoding": "gzip", **({"If-None-Match": etag} if etag else {})}
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def page_etag(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.getheader("ETag") or ""
    finally:
        conn.close()


def _client(args: tuple[int, str, float, str]) -> tuple[int, int]:
    port, path, until, etag = args
    ok = errors = 0
    while time.monotonic() < until:
        try:
            status, _ = fetch(port, path, etag)
        except OSError:
            errors += 1
            continue
        if status == (304 if etag else 200):
            ok += 1
        else:
            errors += 1
    return ok, errors


@dataclass
class Result:
    what: str
    path: str
    requests_per_second: float
    errors: int


def drive(port: int, what: str, path: str, *, seconds: float, clients: int, etag: str = "") -> Result:
    """Requests per second answered 200 (or 304 when revalidating with ``etag``)."""
    for _ in range(20):  # warm up: connections, the cache, each worker's imports
        fetch(port, path, etag)
    start = time.monotonic()
    until = start + seconds
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        counts = pool.map(_client, [(port, path, until, etag)] * clients)
    elapsed = time.monotonic() - start
    ok = sum(c[0] for c in counts)
    return Result(what, path, ok / elapsed, sum(c[1] for c in counts))


def static_path(static_root: str) -> str:
    import json

    manifest = json.loads((Path(static_root) / "staticfiles.json").read_text())
    return "/static/" + manifest["paths"]["css/site.css"]


def run(seconds: float, clients: int) -> list[Result]:
    from testing.workers import free_port

    static_root = tempfile.mkdtemp(prefix="newsroom-bench-static-")
    results: list[Result] = []
    try:
        recreate_database()
        prepare(environment(static_root, cache_seconds=300))
        page = f"/newsletter/{ISSUE_SLUG}/"
        for cache_seconds in (300, 0):
            port = free_port()
            server = start_gunicorn(environment(static_root, cache_seconds=cache_seconds), port)
            try:
                status, body = fetch(port, page)
                if status != 200 or b"Small models have a big week" not in body:
                    raise RuntimeError(f"the issue page answered {status}")
                if cache_seconds:
                    results.append(
                        drive(
                            port, "static file (WhiteNoise)", static_path(static_root), seconds=seconds, clients=clients
                        )
                    )
                    results.append(drive(port, "/health/ (one query)", "/health/", seconds=seconds, clients=clients))
                    results.append(drive(port, "issue page, cached", page, seconds=seconds, clients=clients))
                    etag = page_etag(port, page)
                    if not etag:
                        raise RuntimeError("the cached issue page has no ETag")
                    revalidated = drive(
                        port, "issue page, 304 (ETag)", page, seconds=seconds, clients=clients, etag=etag
                    )
                    results.append(revalidated)
                else:
                    results.append(drive(port, "issue page, cache off", page, seconds=seconds, clients=clients))
            finally:
                stop(server)
    finally:
        shutil.rmtree(static_root, ignore_errors=True)
        shutil.rmtree(static_root + "-var", ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="time each URL is driven")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    options = parser.parse_args()
    results = run(options.seconds, options.clients)
    print(report(results, seconds=options.seconds, clients=options.clients))
    if any(r.errors for r in results):
        sys.exit("Some requests failed; the figures above are not to be trusted.")


def report(results: list[Result], *, seconds: float, clients: int) -> str:
    """The figures as a table; machines differ, so read the ratios to /health/
    (one query, same server, same run) rather than the raw rates."""
    by_what = {r.what: r.requests_per_second for r in results}
    baseline = by_what["/health/ (one query)"]
    lines = [
        f"Issue page, gunicorn 2 sync workers, {clients} clients, {seconds:g} s each",
        f"{'what':<28} {'req/s':>8} {'vs /health/':>12} {'errors':>7}",
    ]
    for r in results:
        lines.append(
            f"{r.what:<28} {r.requests_per_second:>8.0f} {r.requests_per_second / baseline:>11.2f}x {r.errors:>7}"
        )
    speedup = by_what["issue page, cached"] / by_what["issue page, cache off"]
    lines.append(f"cache speed-up on the issue page: {speedup:.1f}x")
    cached = by_what["issue page, cached"] / baseline
    lines.append(f"cached issue page vs /health/: {cached:.2f}x (target at least 0.80x)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
