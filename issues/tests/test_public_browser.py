"""The public pages in a real Chromium, at phone and desktop widths."""

import pytest

from issues.models import Tag
from issues.tests.public_helpers import published
from newsroom.models import SitePage
from newsroom.testing.fixtures import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"phone": 375, "narrow": 320, "desktop": 1280}


@pytest.fixture
def site(transactional_db, settings):
    settings.PAGE_CACHE_SECONDS = 0
    SitePage.objects.create(title="Privacy Policy", slug="privacy", body="<p>Little is kept.</p>")
    SitePage.objects.create(title="Support", slug="support", body="<p>Write to us.</p>")
    issue = published(
        slug="robots-read-the-news",
        title="Robots read the news, and other stories",
        cover=True,
        cover_alt="A robot holding a newspaper",
        canonical_url="https://source.example.com/a",
        summary="Three stories, a partner highlight, a tool and quick links.",
    )
    issue.tags.add(Tag.objects.create(name="Research", slug="research"))
    for n in range(3):
        published(full=False, title=f"Earlier issue {n}", summary="An earlier summary.")
    return issue


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.parametrize("width", ["phone", "narrow", "desktop"])
def test_the_public_pages_fit_the_screen(page, live_server, site, width):
    page.set_viewport_size({"width": WIDTHS[width], "height": 800})
    for name, path in [("home", "/"), ("archive", "/newsletter/"), ("issue", site.get_absolute_url())]:
        page.goto(live_server.url + path)
        assert page.locator("h1").count() == 1
        assert _no_sideways_scroll(page), (name, width)
        screenshot(page, f"public-{name}-{width}")


def test_the_issue_page_shows_what_a_reader_expects(page, live_server, site):
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server.url + site.get_absolute_url())
    assert page.locator("nav.breadcrumb").inner_text().split() == ["Home", "/", "Newsletter", "/", site.slug]
    assert page.locator("img.cover").get_attribute("alt") == "A robot holding a newspaper"
    assert page.locator("img.cover").evaluate("img => img.naturalWidth") > 0
    assert "8 min read" in page.locator(".issue-header .meta").inner_text()
    assert page.get_by_role("link", name="Read original article").is_visible()
    label = page.locator(".sponsored-label")
    assert label.is_visible() and "SPONSORED" in label.inner_text().upper()
    # The copy button is shown by our own script and says what happened.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy link").click()
    page.get_by_text("Link copied.").wait_for()
    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 18, 18)"
    screenshot(page, "public-issue-phone-dark")


def test_the_subscribe_form_is_reachable_by_keyboard_with_visible_focus(page, live_server, site):
    page.goto(live_server.url + "/newsletter/")
    page.get_by_role("link", name="Subscribe", exact=True).focus()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#subscribe"
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('#subscribe') && document.activeElement.matches('input')"):
            break
    else:
        pytest.fail("Tab never reached a field of the subscribe form")
    focused = page.evaluate(
        "(() => { const el = document.activeElement; const s = getComputedStyle(el);"
        " return {label: el.labels && el.labels.length, outline: s.outlineStyle}; })()"
    )
    assert focused["label"], "the focused field has no label"
    assert focused["outline"] != "none"
    screenshot(page, "public-subscribe-focus")


def test_the_archive_search_finds_an_issue(page, live_server, site):
    page.goto(live_server.url + "/newsletter/")
    page.get_by_label("Search issues").fill("robots")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/newsletter/?q=robots")
    titles = page.locator(".card-title").all_inner_texts()
    assert titles == ["Robots read the news, and other stories"]
