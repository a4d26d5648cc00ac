"""Page-weight budget of the issue page, measured as a browser loads it.

    python -m bench.budget

Builds the same throwaway setup as bench.page (its own database,
newsroom_bench_budget; static files collected with the production storage,
so CSS and JS are served compressed by WhiteNoise; the demo's sent issue with
a cover, tags and an author), starts gunicorn, and loads the issue page in
headless Chromium (Playwright) at 1280 x 900 until the network is idle. Every
request the page makes is counted with the bytes it transferred (headers and
encoded body). Reported: requests, transferred bytes, the largest image, and
the same figures for the site's bare frame (the 404 page) loaded in the same
run, as the baseline the issue page adds to. Each figure is shown as a ratio
to its budget; the run fails if one is over.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault(
    "BENCH_PAGE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsroom_bench_budget"
)  # before bench.page reads it

from bench import page as bench_page

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
WIDTH, HEIGHT = 1280, 900
# Budgets for the issue page (a Lighthouse-style performance budget).
BUDGETS = {"requests": 12, "transferred bytes": 400_000, "largest image bytes": 200_000}


@dataclass
class Load:
    what: str
    requests: int = 0
    transferred: int = 0
    largest_image: int = 0
    largest_image_url: str = ""
    kinds: dict[str, int] = field(default_factory=dict)


def _serve_media(media_root: Path) -> Any:
    """Answer /media/ from the folder, as the web server or CDN in front of
    the app does in production (Django serves media only with DEBUG)."""

    def handle(route: object) -> None:
        from urllib.parse import unquote, urlsplit

        name = unquote(urlsplit(route.request.url).path).removeprefix("/media/")  # type: ignore[attr-defined]
        path = (media_root / name).resolve()
        if media_root.resolve() in path.parents and path.is_file():
            route.fulfill(path=str(path))  # type: ignore[attr-defined]
        else:
            route.fulfill(status=404, body="")  # type: ignore[attr-defined]

    return handle


def measure(url: str, what: str, media_root: Path) -> Load:
    from playwright.sync_api import sync_playwright

    load = Load(what)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
            context.route("**/media/**", _serve_media(media_root))
            tab = context.new_page()
            finished: list = []
            tab.on("requestfinished", lambda request: finished.append(request))
            tab.goto(url, wait_until="networkidle")
            for request in finished:
                sizes = request.sizes()
                body = sizes["responseBodySize"]
                response = request.response()
                if not body and response is not None:  # answered by _serve_media: the file as sent
                    body = len(response.body())
                size = body + sizes["responseHeadersSize"]
                load.requests += 1
                load.transferred += size
                kind = request.resource_type
                load.kinds[kind] = load.kinds.get(kind, 0) + size
                if kind == "image" and body > load.largest_image:
                    load.largest_image, load.largest_image_url = body, request.url
        finally:
            browser.close()
    return load


def run() -> list[Load]:
    from testing.workers import free_port

    static_root = tempfile.mkdtemp(prefix="newsroom-bench-budget-")
    try:
        bench_page.recreate_database()
        env = bench_page.environment(static_root, cache_seconds=300)
        # Media (the cover, the card) in a folder of this run, served by the app as in `make run`.
        env["MEDIA_ROOT"] = static_root + "-media"
        env["DEBUG"] = "0"
        bench_page.prepare(env)
        port = free_port()
        server = bench_page.start_gunicorn(env, port)
        try:
            base = f"http://127.0.0.1:{port}"
            media = Path(env["MEDIA_ROOT"])
            return [
                measure(base + "/no-such-page/", "site frame (404 page)", media),
                measure(base + f"/newsletter/{bench_page.ISSUE_SLUG}/", "issue page", media),
            ]
        finally:
            bench_page.stop(server)
    finally:
        for path in (static_root, static_root + "-var", static_root + "-media"):
            shutil.rmtree(path, ignore_errors=True)


def report(loads: list[Load]) -> tuple[str, bool]:
    frame, issue = loads
    load_average = "/".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [f"Issue page weight, Chromium {WIDTH}x{HEIGHT}, load average {load_average}"]
    lines.append(f"{'what':<24} {'requests':>9} {'KB':>9} {'largest image KB':>17}")
    for load in loads:
        lines.append(
            f"{load.what:<24} {load.requests:>9} {load.transferred / 1000:>9.1f} {load.largest_image / 1000:>17.1f}"
        )
    lines.append("issue page by kind (KB): " + ", ".join(f"{k} {v / 1000:.1f}" for k, v in sorted(issue.kinds.items())))
    lines.append(f"largest image: {issue.largest_image_url}")
    lines.append(
        f"issue page vs site frame: {issue.requests / frame.requests:.2f}x requests, "
        f"{issue.transferred / frame.transferred:.2f}x bytes"
    )
    figures = {
        "requests": issue.requests,
        "transferred bytes": issue.transferred,
        "largest image bytes": issue.largest_image,
    }
    ok = True
    for name, value in figures.items():
        ratio = value / BUDGETS[name]
        ok = ok and ratio <= 1
        verdict = "within" if ratio <= 1 else "OVER"
        lines.append(f"{name}: {value:,} of a budget of {BUDGETS[name]:,} ({ratio:.2f}x, {verdict})")
    return "\n".join(lines), ok


def main() -> None:
    if not CHROMIUM.exists():
        sys.exit(f"bench.budget needs Chromium at {CHROMIUM} (make browser, or set CHROMIUM_PATH)")
    text, ok = report(run())
    print(text)
    if not ok:
        sys.exit("The issue page is over its budget.")


if __name__ == "__main__":
    main()
