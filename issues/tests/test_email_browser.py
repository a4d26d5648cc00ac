"""The demo issue email in Chromium, as a phone and a desktop mail client show it:
no sideways scrolling at 320 and 375 px, a dark page in dark mode with the
logo still on its light plate, every image loaded at its size; screenshots at
375 and 600 px, light and dark, in test-artifacts/ for people to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from demo.loader import demo_load
from issues.emails import merge_sample, sample_merge_values
from issues.models import Issue
from issues.rendering import render_email
from testing.fixtures import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SITE = "https://news.example.com"

_MEASURE = """() => {
  const root = document.documentElement, card = document.querySelector('.container');
  const bg = (el) => getComputedStyle(el).backgroundColor;
  return {
    scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    cardWidth: card.getBoundingClientRect().width,
    card: bg(card), plate: bg(document.querySelector('.logo-plate')),
    heading: getComputedStyle(document.querySelector('h1')).color,
    images: Array.from(document.images, (img) => ({
      src: img.src, loaded: img.complete && img.naturalWidth > 0, right: img.getBoundingClientRect().right,
    })),
  };
}"""


def _serve(html: str, media: Path) -> Any:
    """Answer the email's own address with the email and /media/ from MEDIA_ROOT; nothing else."""

    def handle(route: Any) -> None:
        path = urlsplit(route.request.url).path
        if path == "/email/":
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
        elif path.startswith("/media/") and (media / path.removeprefix("/media/")).is_file():
            route.fulfill(status=200, path=str(media / path.removeprefix("/media/")))
        else:
            route.fulfill(status=404, body="")

    return handle


def test_the_email_reads_on_a_phone_and_a_desktop_in_light_and_dark(browser, settings) -> None:
    settings.SITE_URL = SITE
    demo_load()
    issue = Issue.objects.get(slug="small-models-have-a-big-week")
    html = merge_sample(render_email(issue).html, sample_merge_values(issue))
    found = {}
    for width in (320, 375, 600):
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
            page = context.new_page()
            page.route(f"{SITE}/**", _serve(html, Path(settings.MEDIA_ROOT)))
            page.goto(f"{SITE}/email/")
            page.wait_for_load_state("load")
            found[(width, scheme)] = page.evaluate(_MEASURE)
            if width in (375, 600):
                screenshot(page, f"email-{width}-{scheme}")
            context.close()
    for (width, scheme), seen in found.items():
        where = f"at {width} px, {scheme}"
        assert seen["scrollWidth"] <= seen["clientWidth"], f"sideways scroll {where}: {seen}"
        assert seen["cardWidth"] <= width, where
        assert len(seen["images"]) == 2 and all(img["loaded"] for img in seen["images"]), where  # logo and cover
        assert all(img["right"] <= width + 0.5 for img in seen["images"]), where
        assert seen["plate"] == "rgb(255, 255, 255)", f"the logo's plate stays light {where}"
    assert found[(375, "light")]["card"] == "rgb(255, 255, 255)"
    assert found[(375, "dark")]["card"] == "rgb(28, 28, 30)"
    assert found[(375, "dark")]["heading"] == "rgb(244, 244, 241)"
    assert found[(600, "light")]["cardWidth"] == 600
