"""A large publication: build it, then time every admin and public page on it with gunicorn.

    python -m bench.scale [--rounds 20] [--keep]          (make bench-scale)
    BENCH_SCALE=0.1 python -m bench.scale                  (a tenth of the size)

Drops and re-creates the database bench_f17a_scale (BENCH_SCALE_DATABASE_URL
overrides it), migrates it and builds the data set of testing/scale.py at
BENCH_SCALE times the size of issue #17 (1.0: a million readers in five lists
with tags and custom attributes, 500 sent issues, 100 sends, ten million
events, an import of 50,000 rows), timing the build. Then it starts gunicorn
(2 sync workers, DEBUG=0, the cache and sessions on Redis: BENCH_SCALE_REDIS_URL,
default redis://127.0.0.1:6379/11), signs in as an editor through the login
form, and for each page sends --rounds requests one after the other (after two
to warm up), reporting the median and the 95th percentile of the time to the
last byte of the answer, against the target of 300 ms, with /health/ (one
query) as the baseline in the same run. The CSV export of a segment of about
100,000 readers (at full size) is timed once, with the gunicorn workers'
resident memory before and after it. --keep leaves the database for a look.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get("BENCH_SCALE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_f17a_scale")
REDIS_URL = os.environ.get("BENCH_SCALE_REDIS_URL", "redis://127.0.0.1:6379/11")
TARGET_MS = 300.0
EDITOR, PASSWORD = "scale-editor", "scale-editor-password-1"


def environment(static_root: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "CACHE_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": "bench-scale",
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-" + uuid.uuid4().hex * 2,
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "STATIC_ROOT": static_root,
        "NEWSROOM_VAR_DIR": static_root + "-var",
        "ANYMAIL_PROVIDER": "outbox",
        # The export streams for longer than gunicorn's default 30 s at full size.
        "GUNICORN_CMD_ARGS": "--timeout 600",
    }


def recreate_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    with psycopg.connect(_server_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _server_url() -> str:
    return (DATABASE_URL.rsplit("/", 1)[0] + "/postgres").replace("postgres://", "postgresql://", 1)


def _built_file() -> Path:
    return Path(tempfile.gettempdir()) / (DATABASE_URL.rsplit("/", 1)[1] + ".json")


def build(env: dict[str, str], factor: float) -> dict[str, Any]:
    """Migrate and build in a child process (with the server's settings); returns what it built."""
    recreate_database()
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    code = (
        "import django, json, time; django.setup()\n"
        "from testing.scale import Size, publication_create\n"
        "from django.contrib.auth.models import User\n"
        f"start = time.perf_counter(); built = publication_create(size=Size.scaled({factor!r}))\n"
        "seconds = time.perf_counter() - start\n"
        f"User.objects.create_superuser({EDITOR!r}, 'scale@example.org', {PASSWORD!r})\n"
        "from issues.views import ARCHIVE_PAGE_SIZE\n"
        "print('BUILT ' + json.dumps({**built.__dict__, 'size': built.size.__dict__, 'seconds': seconds, "
        "'archive_page_size': ARCHIVE_PAGE_SIZE}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith("BUILT "))
    _built_file().write_text(line[6:])
    return dict(json.loads(line[6:]))


class Browser:
    """An editor's browser: one requests session (cookies), signed in through the admin's login form."""

    def __init__(self, base: str) -> None:
        import requests

        self.base = base
        self.session = requests.Session()

    def login(self) -> None:
        page = self.session.get(self.base + "/admin/login/")
        self.unsecure()
        token = _csrf(page.text)
        answer = self.session.post(
            self.base + "/admin/login/?next=/admin/",
            data={"username": EDITOR, "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/admin/"},
            headers={"Referer": self.base + "/admin/login/"},
            allow_redirects=False,
        )
        if answer.status_code != 302:
            raise RuntimeError(f"login answered {answer.status_code}")
        self.unsecure()

    def unsecure(self) -> None:
        # DEBUG=0 marks the session and CSRF cookies Secure; this plain-HTTP client sends them anyway.
        for cookie in self.session.cookies:
            cookie.secure = False

    def time(self, path: str, *, expect: int = 200) -> float:
        start = time.perf_counter()
        answer = self.session.get(self.base + path, allow_redirects=False)  # a 302 to the login fails
        elapsed = time.perf_counter() - start
        self.unsecure()
        if answer.status_code != expect:
            raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:300]}")
        return elapsed


def _csrf(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def pages(built: dict[str, Any]) -> list[tuple[str, str]]:
    lists, tags, sends = built["list_ids"], built["tag_ids"], built["send_ids"]
    reader = built["counts"]["readers"] // 2
    middle_send = sends[len(sends) // 2]
    changelist = "/admin/subscribers/subscriber/"
    live_count = f"lists={lists[1]}&tags={tags[0]}&status=active"
    last_page = min(20, -(-len(built["issue_ids"]) // built["archive_page_size"]))  # page 20 at full size
    return [
        ("/health/ (baseline, one query)", "/health/"),
        ("admin: subscribers, default", changelist),
        ("admin: subscribers, by list", f"{changelist}?lists__id__exact={lists[1]}"),
        ("admin: subscribers, by tag", f"{changelist}?tags__id__exact={tags[2]}"),
        ("admin: subscribers, by status", f"{changelist}?status__exact=unsubscribed"),
        ("admin: subscribers, search fragment", f"{changelist}?q=er{reader}"),
        ("admin: subscribers, search domain", f"{changelist}?q=firma.exa"),
        ("admin: a subscriber's page", f"{changelist}{reader}/change/"),
        ("admin: segment live count", f"/admin/subscribers/segment/count/?{live_count}"),
        ("admin: lists", "/admin/subscribers/mailinglist/"),
        ("admin: tags", "/admin/subscribers/subscribertag/"),
        ("admin: segments", "/admin/subscribers/segment/"),
        ("admin: a segment's page", f"/admin/subscribers/segment/{built['export_segment_id']}/change/"),
        ("admin: issues list", "/admin/issues/issue/"),
        ("admin: sends list", "/admin/delivery/send/"),
        ("admin: a send's page", f"/admin/delivery/send/{middle_send}/change/"),
        ("admin: a send's progress", f"/admin/delivery/send/{middle_send}/progress/"),
        ("admin: per-send analytics", f"/admin/analytics/send/{middle_send}/"),
        ("admin: audience analytics", "/admin/analytics/audience/"),
        ("admin: analytics index", "/admin/analytics/"),
        ("admin: the import report", f"/admin/subscribers/importjob/{built['import_job_id']}/change/"),
        ("public: home", "/"),
        ("public: archive page 1", "/newsletter/"),
        (f"public: archive page {last_page}", f"/newsletter/?page={last_page}"),
        ("public: issue page, cached", f"/newsletter/issue-{len(built['issue_ids']) - 1}/"),
        ("public: search", "/newsletter/?q=quantum"),
        ("public: RSS feed", "/newsletter/feed/rss/"),
        ("public: Atom feed", "/newsletter/feed/atom/"),
        ("public: sitemap", "/sitemap.xml"),
    ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def measure(browser: Browser, built: dict[str, Any], rounds: int) -> list[tuple[str, float, float]]:
    results = []
    for name, path in pages(built):
        for _ in range(2):
            browser.time(path)
        timings = [browser.time(path) for _ in range(rounds)]
        results.append((name, statistics.median(timings), percentile(timings, 0.95)))
    # Uncached: the first view of issues nobody has opened since the build (the cache was emptied).
    count = len(built["issue_ids"])
    cold = [browser.time(f"/newsletter/issue-{n}/") for n in range(1, min(count - 2, rounds) + 1)]
    results.append(("public: issue page, not cached", statistics.median(cold), percentile(cold, 0.95)))
    return results


def _rss_kib(pids: list[int]) -> dict[int, int]:
    sizes = {}
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes[pid] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return sizes


def export(browser: Browser, built: dict[str, Any], workers: list[int]) -> str:
    """The changelist's "Export selected readers as CSV" on every reader of the segment, streamed."""
    url = f"{browser.base}/admin/subscribers/subscriber/?segment={built['export_segment_id']}"
    page = browser.session.get(url)
    browser.unsecure()
    first = re.search(r'name="_selected_action" value="(\d+)"', page.text)
    if not first:
        raise RuntimeError("the segment's changelist shows no reader")
    before = _rss_kib(workers)
    start = time.perf_counter()
    data = {
        "action": "export_csv",
        "select_across": "1",
        "index": "0",
        "_selected_action": first.group(1),
        "csrfmiddlewaretoken": _csrf(page.text),
    }
    rows, first_byte = 0, 0.0
    with browser.session.post(url, data=data, headers={"Referer": url}, stream=True) as answer:
        if answer.status_code != 200 or "csv" not in answer.headers.get("Content-Type", ""):
            raise RuntimeError(f"export answered {answer.status_code} {answer.headers.get('Content-Type')}")
        for chunk in answer.iter_content(chunk_size=65536):
            if not first_byte:
                first_byte = time.perf_counter() - start
            rows += chunk.count(b"\n")
    seconds = time.perf_counter() - start
    after = _rss_kib(workers)
    growth = max(after[pid] - before[pid] for pid in workers) / 1024
    return (
        f"CSV export of a segment: {rows - 1} readers in {seconds:.1f} s ({(rows - 1) / seconds:,.0f} rows/s), "
        f"first byte after {first_byte * 1000:.0f} ms; gunicorn workers' RSS "
        f"{', '.join(f'{before[p] / 1024:.0f}→{after[p] / 1024:.0f} MiB' for p in workers)} "
        f"(largest growth {growth:.1f} MiB)"
    )


def _workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True, check=False).stdout
    return [int(pid) for pid in out.split()]


def report(results: list[tuple[str, float, float]], rounds: int) -> str:
    baseline = results[0][1]
    lines = [
        f"Server time over {rounds} requests each (gunicorn 2 sync workers, PostgreSQL, Redis), target p95 < "
        f"{TARGET_MS:.0f} ms",
        f"{'page':<40} {'median ms':>10} {'p95 ms':>8} {'median vs /health/':>19}  target",
    ]
    for name, median, p95 in results:
        verdict = "ok" if p95 * 1000 < TARGET_MS else "SLOW"
        lines.append(f"{name:<40} {median * 1000:>10.1f} {p95 * 1000:>8.1f} {median / baseline:>18.1f}x  {verdict}")
    slow = [name for name, _, p95 in results if p95 * 1000 >= TARGET_MS]
    lines.append(f"pages over the target: {len(slow)}" + (f" ({', '.join(slow)})" if slow else ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="leave the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure the database a --keep run left, no build")
    options = parser.parse_args()
    factor = float(os.environ.get("BENCH_SCALE", "1"))
    from bench.page import start_gunicorn, stop
    from testing.workers import free_port

    static_root = tempfile.mkdtemp(prefix="newsroom-bench-scale-")
    env = environment(static_root)
    try:
        print(f"load average before the build: {os.getloadavg()}", flush=True)
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
            env=env,
            check=True,
            cwd=ROOT,
        )
        built = json.loads(_built_file().read_text()) if options.reuse else build(env, factor)
        _cache_clear(env)
        print(_count_audiences(env), flush=True)
        counts = ", ".join(f"{value:,} {name}" for name, value in built["counts"].items())
        print(f"built at BENCH_SCALE={factor:g} in {built['seconds']:.0f} s: {counts}", flush=True)
        port = free_port()
        server = start_gunicorn(env, port)
        try:
            browser = Browser(f"http://127.0.0.1:{port}")
            browser.login()
            print(f"load average before the pages: {os.getloadavg()}", flush=True)
            results = measure(browser, built, options.rounds)
            print(report(results, options.rounds))
            print(export(browser, built, _workers(server.pid)))
            print(f"load average after: {os.getloadavg()}")
        finally:
            stop(server)
    finally:
        shutil.rmtree(static_root, ignore_errors=True)
        shutil.rmtree(static_root + "-var", ignore_errors=True)
        if not options.keep:
            _drop()


def _count_audiences(env: dict[str, str]) -> str:
    """What the periodic task does at this size (subscribers.counts): every list and segment counted, timed."""
    code = (
        "import django, time; django.setup()\n"
        "from subscribers import counts\n"
        "live = counts.counts_live(); start = time.perf_counter()\n"
        "lists = counts.list_counts_refresh(); middle = time.perf_counter()\n"
        "segments = counts.segment_counts_refresh(); end = time.perf_counter()\n"
        "print(f'stored counts (the admin counts live: {live}): {lists} lists in {middle - start:.2f} s, '\n"
        "      f'{segments} segments in {end - middle:.2f} s')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return out.stdout.strip()


def _cache_clear(env: dict[str, str]) -> None:
    code = "import django; django.setup(); from django.core.cache import cache; cache.clear()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)


def _drop() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    with psycopg.connect(_server_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _built_file().unlink(missing_ok=True)


if __name__ == "__main__":
    main()
