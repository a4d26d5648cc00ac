import re

import pytest
from django.core.exceptions import ValidationError

from issues.tests.public_helpers import published
from newsroom.models import NavLink, SitePage
from newsroom.selectors import site_cache_clear

pytestmark = pytest.mark.django_db


def test_home_shows_the_publication_latest_and_recent_issues_and_the_form(client, settings):
    settings.PUBLISHER_NAME = "The Daily Machine"
    from django.utils import timezone

    now = timezone.now()
    for n in range(4):
        published(full=False, title=f"Issue {n}", summary=f"Summary {n}.", when=now - timezone.timedelta(days=5 - n))
    html = client.get("/").content.decode()
    assert re.search(r"<h1>The Daily Machine</h1>", html)
    latest = re.search(r'<section class="latest".*?</section>', html, re.S).group(0)
    assert "Issue 3" in latest and "Summary 3." in latest and "8 min read" in latest
    recent = re.search(r'<section class="recent".*?</section>', html, re.S).group(0)
    assert re.findall(r"Issue \d", recent) == ["Issue 2", "Issue 1", "Issue 0"]
    assert 'id="subscribe"' in html


def test_home_without_issues_invites_to_subscribe(client):
    html = client.get("/").content.decode()
    assert "The first issue is on its way" in html
    assert 'id="subscribe"' in html


def test_footer_pages_and_header_links_come_from_the_admin_models(client, settings):
    settings.SITE_URL = "https://news.example.org"
    SitePage.objects.create(title="Privacy Policy", slug="privacy", body="<p>We keep little.</p>", position=1)
    SitePage.objects.create(title="Advertise with us", slug="advertise", body="<p>Reach readers.</p>", position=2)
    SitePage.objects.create(title="Hidden", slug="hidden", show_in_footer=False)
    NavLink.objects.create(label="Guides", url="/pages/privacy/", position=1)
    site_cache_clear()
    html = client.get("/").content.decode()
    footer = re.search(r'<nav aria-label="Footer">.*?</nav>', html, re.S).group(0)
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', footer) == [
        ("/pages/privacy/", "Privacy Policy"),
        ("/pages/advertise/", "Advertise with us"),
        ("/newsletter/", "Archive"),
        ("/newsletter/feed/rss/", "RSS feed"),
    ]
    header = re.search(r'<header class="site-header">.*?</header>', html, re.S).group(0)
    assert '<a href="/pages/privacy/">Guides</a>' in header
    page = client.get("/pages/advertise/").content.decode()
    assert "<h1>Advertise with us</h1>" in page and "Reach readers." in page
    assert '<link rel="canonical" href="https://news.example.org/pages/advertise/">' in page


def test_the_header_links_the_archive_once_whatever_editors_add(client):
    NavLink.objects.create(label="Guides", url="/pages/guides/", position=1)
    html = client.get("/").content.decode()
    assert re.findall(r'<li><a href="([^"]+)"', _header(html)) == ["/pages/guides/", "/newsletter/"]
    NavLink.objects.create(label="News", url="/newsletter/", position=2)
    site_cache_clear()
    html = client.get("/newsletter/").content.decode()
    links = re.findall(r'<li><a href="([^"]+)"( aria-current="page")?>([^<]+)', _header(html))
    assert links == [("/pages/guides/", "", "Guides"), ("/newsletter/", ' aria-current="page"', "News")]


def _header(html: str) -> str:
    return re.search(r'<header class="site-header">.*?</header>', html, re.S).group(0)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,x",
        "//evil.example.com/",
        "ftp://x.example/",
        "/a b",
    ],
)
def test_a_header_link_must_be_a_site_path_or_a_web_address(url):
    with pytest.raises(ValidationError):
        NavLink(label="Bad", url=url).full_clean()


@pytest.mark.parametrize(
    "url", ["/newsletter/", "#subscribe", "https://courses.example.com/", "http://x.example/a?b=1"]
)
def test_site_paths_and_web_addresses_are_accepted_as_header_links(url):
    NavLink(label="Good", url=url).full_clean()


def test_the_admin_refuses_a_script_link_in_the_header(client, editor):
    client.force_login(editor)
    response = client.post(
        "/admin/newsroom/navlink/add/", {"label": "Bad", "url": "javascript:alert(1)", "position": 0}
    )
    assert response.status_code == 200
    assert "Enter a path on this site" in response.content.decode()
    assert not NavLink.objects.exists()


def test_the_admin_strips_scripts_from_a_site_page_and_shows_it_at_once(client, editor):
    client.force_login(editor)
    client.get("/")  # the footer is now cached
    body = '<p>Write to <a href="mailto:help@example.com">us</a>.</p><script>alert(1)</script><p onclick="x()">Hi</p>'
    data = {"title": "Support", "slug": "support", "body": body, "show_in_footer": "on", "position": 3}
    response = client.post("/admin/newsroom/sitepage/add/", data)
    assert response.status_code == 302
    page = SitePage.objects.get(slug="support")
    assert "<script" not in page.body and "onclick" not in page.body and 'href="mailto:help@example.com"' in page.body
    assert '<a href="/pages/support/">Support</a>' in client.get("/").content.decode()


def test_deleting_header_links_in_bulk_updates_the_header(client, editor):
    links = [NavLink.objects.create(label=f"Link {n}", url=f"/pages/p{n}/", position=n) for n in range(2)]
    assert "Link 1" in client.get("/").content.decode()
    client.force_login(editor)
    data = {"action": "delete_selected", "_selected_action": [link.pk for link in links], "post": "yes"}
    assert client.post("/admin/newsroom/navlink/", data).status_code == 302
    assert not NavLink.objects.exists()
    assert "Link 1" not in client.get("/").content.decode()


def test_an_unknown_site_page_is_not_found(client):
    assert client.get("/pages/nope/").status_code == 404


@pytest.mark.parametrize("path", ["/pages/nope/", "/newsletter/no-such-issue/", "/no/such/path/"])
def test_a_missing_page_answers_a_site_page_that_leads_back(client, path):
    response = client.get(path)
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert 'href="/newsletter/">Browse the archive</a>' in html
    assert 'id="subscribe"' in html and '<meta name="robots" content="noindex">' in html


def test_a_server_error_answers_a_page_that_needs_nothing_from_the_app(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in response.content.decode()


def test_every_public_page_has_landmarks_and_one_h1(client):
    issue = published(slug="landmarks")
    SitePage.objects.create(title="Support", slug="support")
    for url in ["/", "/newsletter/", issue.get_absolute_url(), "/pages/support/"]:
        html = client.get(url).content.decode()
        assert html.count("<h1") == 1, url
        for landmark in ("<header", "<main", "<footer", 'aria-label="Main"', 'id="subscribe"'):
            assert landmark in html, (url, landmark)


def test_the_site_has_an_icon_without_a_page_for_favicon_ico(client):
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in client.get("/").content.decode()
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"


def test_health_still_answers(client):
    assert client.get("/health/").json() == {"database": True}


def test_production_collectstatic_writes_hashed_compressed_files(tmp_path):
    # DEBUG=0 selects WhiteNoise's CompressedManifestStaticFilesStorage; it refuses
    # a CSS or JS file that points at a missing file, so this guards every app's assets.
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DEBUG": "0",
        "NEWSROOM_TESTING": "0",
        "SECRET_KEY": "collectstatic-test-" + "x" * 40,
        "STATIC_ROOT": str(tmp_path / "static"),
        "NEWSROOM_VAR_DIR": str(tmp_path / "var"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/site.css"]
    assert hashed != "css/site.css" and hashed.startswith("css/site.")
    assert (tmp_path / "static" / (hashed + ".gz")).exists()
    assert "js/share.js" in manifest["paths"]
    assert manifest["paths"]["favicon.svg"].startswith("favicon.")
    # The composer's scripts: hashed names (WhiteNoise serves those with a far-future max-age) and compressed.
    for name in ("issues/composer.js", "issues/composer.css", "django_ckeditor_5/dist/bundle.js"):
        assert manifest["paths"][name] != name and (tmp_path / "static" / (manifest["paths"][name] + ".gz")).exists()
