"""The public pages in a real Chromium, at phone and desktop widths, light and dark."""

import itertools
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from issues.models import Author, Tag
from issues.tests.public_helpers import png_bytes, published
from newsroom.models import NavLink, SitePage
from subscribers.models import Subscriber, SubscriberStatus
from testing.fixtures import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"narrow": 320, "phone": 375, "desktop": 1280}

CONTRAST_PROBLEMS = (Path(__file__).parent / "public_a11y.js").read_text()

HEADINGS_AND_IMAGES = """
() => ({
  levels: Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6")).map(h => Number(h.tagName[1])),
  unlabelled: Array.from(document.images)
    .filter(i => !i.closest('[aria-hidden="true"]') && !(i.getAttribute("alt") || "").trim())
    .map(i => i.src),
  landmarks: ["header", "nav", "main", "footer"].filter(sel => !document.querySelector(sel)),
})
"""


@pytest.fixture
def site(transactional_db, settings):
    settings.PAGE_CACHE_SECONDS = 0
    SitePage.objects.create(title="Privacy Policy", slug="privacy", body="<p>Little is kept.</p><h2>Cookies</h2>")
    SitePage.objects.create(title="Support", slug="support", body="<p>Write to us.</p>")
    for n, label in enumerate(["Courses", "Guides", "Tools", "Videos", "News"]):
        NavLink.objects.create(
            label=label, url="/newsletter/" if label == "News" else f"/pages/{label.lower()}/", position=n
        )
    issue = published(
        slug="robots-read-the-news",
        title="Robots read the news, and other stories",
        cover=True,
        cover_alt="A robot holding a newspaper",
        canonical_url="https://source.example.com/a",
        summary="Three stories, a partner highlight, a tool and quick links.",
    )
    research = Tag.objects.create(name="Research", slug="research")
    issue.tags.add(research)
    writer = Author.objects.create(name="Ada Writer", slug="ada")
    writer.avatar.save("ada.png", ContentFile(png_bytes()), save=True)
    issue.authors.add(writer, Author.objects.create(name="Ben Editor", slug="ben"))
    for n in range(3):
        earlier = published(full=False, title=f"Earlier issue {n}", summary="An earlier summary.", cover=n == 0)
        earlier.tags.add(research)
    return issue


def _pages(site):
    return [
        ("home", "/"),
        ("archive", "/newsletter/"),
        ("tag", "/tag/research/"),
        ("issue", site.get_absolute_url()),
        ("page", "/pages/privacy/"),
        ("missing", "/newsletter/no-such-issue/"),
    ]


def _load(page, url: str) -> None:
    page.goto(url)
    # Covers below the fold load lazily; load them so screenshots show them.
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })")
    page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_public_pages_fit_the_screen(page, live_server, site, width, scheme):
    page.set_viewport_size({"width": WIDTHS[width], "height": 800})
    page.emulate_media(color_scheme=scheme)
    for name, path in _pages(site)[:4]:
        _load(page, live_server.url + path)
        assert page.locator("h1").count() == 1
        assert _no_sideways_scroll(page), (name, width)
        screenshot(page, f"public-{name}-{width}-{scheme}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_and_field_borders_meet_wcag_aa_contrast(page, live_server, site, scheme):
    page.emulate_media(color_scheme=scheme)
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        for name, path in _pages(site):
            _load(page, live_server.url + path)
            assert page.evaluate(CONTRAST_PROBLEMS) == [], (name, width, scheme)


def test_the_pages_have_landmarks_ordered_headings_and_alt_text(page, live_server, site):
    for name, path in _pages(site):
        _load(page, live_server.url + path)
        found = page.evaluate(HEADINGS_AND_IMAGES)
        assert found["landmarks"] == [], name
        assert found["unlabelled"] == [], name
        levels = found["levels"]
        assert levels[0] == 1 and levels.count(1) == 1, (name, levels)
        assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), (name, levels)


def test_a_missing_issue_shows_a_page_that_leads_back(page, live_server, site):
    page.set_viewport_size({"width": 375, "height": 800})
    response = page.goto(live_server.url + "/newsletter/no-such-issue/")
    assert response.status == 404
    screenshot(page, "public-not-found-phone")
    page.get_by_role("link", name="Browse the archive").click()
    page.wait_for_url("**/newsletter/")
    assert site.title in page.locator(".card-title").all_inner_texts()


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
    assert page.evaluate("navigator.clipboard.readText()").endswith(site.get_absolute_url())
    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 19, 21)"


def test_the_archive_leads_to_a_tags_page_from_the_tag_list(page, live_server, site):
    published(full=False, title="Untagged issue")
    page.goto(live_server.url + "/newsletter/")
    assert "Untagged issue" in page.locator(".card-title").all_inner_texts()
    page.get_by_role("navigation", name="Browse by tag").get_by_role("link", name="Research").click()
    page.wait_for_url("**/tag/research/")
    titles = page.locator(".card-title").all_inner_texts()
    assert "Untagged issue" not in titles and site.title in titles
    assert page.locator(".tag-filter [aria-current]").inner_text().startswith("Research")


def test_a_reader_subscribes_with_the_keyboard_alone(page, live_server, site, settings, celery_eager):
    settings.SITE_URL = live_server.url
    page.goto(live_server.url + site.get_absolute_url())
    page.get_by_role("link", name="Subscribe", exact=True).focus()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#subscribe"
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#subscribe input[type=email]')"):
            break
    else:
        pytest.fail("Tab never reached the email field of the subscribe form")
    focused = page.evaluate(
        "(() => { const el = document.activeElement; const s = getComputedStyle(el);"
        " return {label: el.labels.length && el.labels[0].innerText,"
        " outline: s.outlineStyle, width: s.outlineWidth}; })()"
    )
    assert focused["label"] == "Email address"
    assert focused["outline"] != "none" and focused["width"] != "0px"
    page.keyboard.type("keys@example.org")
    screenshot(page, "public-subscribe-focus")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#subscribe button[type=submit]')"):
            break
    else:
        pytest.fail("Tab never reached the Subscribe button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/subscribe/thanks/")
    assert Subscriber.objects.get(email__iexact="keys@example.org").status == SubscriberStatus.PENDING


def test_the_archive_search_finds_an_issue(page, live_server, site):
    page.goto(live_server.url + "/newsletter/")
    page.get_by_label("Search issues").fill("robots")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/newsletter/?q=robots")
    titles = page.locator(".card-title").all_inner_texts()
    assert titles == ["Robots read the news, and other stories"]


def test_a_reader_subscribes_from_a_page_served_from_the_page_cache(
    page, browser, live_server, site, settings, celery_eager
):
    # No CSRF token or cookie in the cached page: the browser's Sec-Fetch-Site
    # header is what lets the post through (core.origin).
    settings.PAGE_CACHE_SECONDS = 300
    settings.SITE_URL = live_server.url
    first = browser.new_context()
    first.new_page().goto(live_server.url + site.get_absolute_url())  # fills the page cache
    first.close()
    response = page.goto(live_server.url + site.get_absolute_url())
    assert response is not None and response.headers.get("etag")
    assert page.context.cookies() == []
    page.locator("#subscribe input[type=email]").fill("cached-page@example.org")
    page.locator("#subscribe button[type=submit]").click()
    page.wait_for_url("**/subscribe/thanks/")
    assert Subscriber.objects.get(email="cached-page@example.org").status == SubscriberStatus.PENDING


def test_the_reading_progress_bar_fills_as_the_reader_scrolls(page, live_server, site):
    page.set_viewport_size({"width": 375, "height": 700})
    page.goto(live_server.url + site.get_absolute_url())
    bar = page.locator(".reading-progress")
    assert bar.get_attribute("aria-hidden") == "true"
    assert float(bar.get_attribute("data-progress")) == 0
    page.evaluate("window.scrollTo(0, document.querySelector('article.issue').offsetHeight / 2)")
    page.wait_for_function("parseFloat(document.querySelector('.reading-progress').dataset.progress) > 0.2")
    middle = float(bar.get_attribute("data-progress"))
    assert 0.2 < middle < 0.9
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_function("document.querySelector('.reading-progress').dataset.progress === '1.00'")
    assert bar.bounding_box()["width"] == pytest.approx(375, abs=1)


def test_without_javascript_there_is_no_progress_bar(browser, live_server, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + site.get_absolute_url())
    assert page.locator(".reading-progress").count() == 0
    assert page.locator("article.issue h1").inner_text() == site.title
    context.close()


@pytest.mark.parametrize("width", [320, 375])
def test_at_phone_widths_the_nav_keeps_one_row_and_the_breadcrumb_one_line(page, live_server, site, width):
    site.slug = "robots-read-the-news-and-other-stories-from-a-long-week-of-launches"
    site.save(update_fields=["slug"])
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(live_server.url + site.get_absolute_url())
    tops = page.locator(".site-nav li").evaluate_all("items => items.map(li => li.getBoundingClientRect().top)")
    assert len(tops) == 5 and len(set(tops)) == 1
    crumb = page.locator(".breadcrumb span[aria-current]")
    assert crumb.inner_text() == site.slug  # the whole slug is there for assistive technology
    line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.breadcrumb')).lineHeight)")
    assert page.locator(".breadcrumb ol").bounding_box()["height"] < 1.5 * line
    assert crumb.evaluate("el => getComputedStyle(el).textOverflow") == "ellipsis"
    assert crumb.evaluate("el => el.scrollWidth > el.clientWidth")
    assert _no_sideways_scroll(page)


def test_the_issue_page_leads_to_related_and_neighbouring_issues(page, live_server, site):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + site.get_absolute_url())
    assert page.locator(".byline img.avatar").evaluate("img => img.naturalWidth") > 0
    assert page.locator(".byline").inner_text() == "By Ada Writer and Ben Editor"
    related = page.get_by_role("region", name="Related issues").locator(".card-title").all_inner_texts()
    assert sorted(related) == ["Earlier issue 0", "Earlier issue 1", "Earlier issue 2"]
    page.get_by_role("navigation", name="Previous and next issue").get_by_role("link").first.click()
    page.wait_for_url("**/newsletter/earlier-issue-*/")
