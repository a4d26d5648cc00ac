"""Whole public pages served from the cache (core.pagecache): no query on a
hit, ETag and 304, cleared by publish and edit, and the subscribe form on a
cached page still subscribes."""

import re

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponse
from django.test import Client

from issues.models import IssueStatus
from issues.tests.public_helpers import published
from subscribers.models import Subscriber, SubscriberStatus
from testing.factories import MailingListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.PAGE_CACHE_SECONDS = 300
    settings.PAGE_SHARED_MAX_AGE = 0


@pytest.mark.parametrize("path", ["/newsletter/hot/", "/newsletter/", "/tag/hot-tag/", "/"])
def test_a_cached_public_page_runs_no_database_query(client, django_assert_num_queries, path):
    issue = published(slug="hot")
    issue.tags.create(name="Hot tag", slug="hot-tag")
    first = client.get(path)
    with django_assert_num_queries(0):
        again = client.get(path)
    assert again.status_code == 200
    assert again.content == first.content


def test_a_cached_page_sets_no_cookie_and_is_the_same_for_every_visitor(client):
    published(slug="shared", title="Shared title")
    first = client.get("/newsletter/shared/")
    other = Client().get("/newsletter/shared/")
    assert "Shared title" in other.content.decode()
    assert other.content == first.content
    assert not first.cookies and not other.cookies
    assert "csrfmiddlewaretoken" not in other.content.decode()
    assert "Cookie" not in other.get("Vary", "")


def test_a_page_answers_304_to_its_own_etag(client):
    published(slug="tagged")
    response = client.get("/newsletter/tagged/")
    etag = response["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert response["Cache-Control"] == "public, max-age=0"
    not_modified = client.get("/newsletter/tagged/", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == etag
    # A CDN that compressed the page may send the tag back weakened.
    assert client.get("/newsletter/tagged/", HTTP_IF_NONE_MATCH="W/" + etag).status_code == 304
    assert client.get("/newsletter/tagged/", HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_the_shared_max_age_setting_lets_a_cdn_hold_the_page(client, settings):
    settings.PAGE_SHARED_MAX_AGE = 120
    published(slug="held")
    assert client.get("/newsletter/held/")["Cache-Control"] == "public, max-age=0, s-maxage=120"


def test_an_edit_changes_the_etag_and_the_old_tag_gets_the_new_page(client, editor, django_capture_on_commit_callbacks):
    from issues.services import issue_save

    issue = published(slug="edited", title="Before the edit")
    old = client.get("/newsletter/edited/")["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        issue.title = "After the edit"
        issue_save(issue=issue, acting_user=editor)
    response = client.get("/newsletter/edited/", HTTP_IF_NONE_MATCH=old)
    assert response.status_code == 200
    assert "After the edit" in response.content.decode()
    assert response["ETag"] != old


def test_unpublishing_removes_the_cached_page(client, editor, django_capture_on_commit_callbacks):
    from issues.services import issue_transition

    issue = published(slug="pulled", status=IssueStatus.APPROVED)
    etag = client.get("/newsletter/pulled/")["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue=issue, to_status=IssueStatus.DRAFT, acting_user=editor)
    assert client.get("/newsletter/pulled/").status_code == 404
    assert client.get("/newsletter/pulled/", HTTP_IF_NONE_MATCH=etag).status_code == 404


def test_a_navigation_or_list_change_clears_the_cached_pages(client, django_capture_on_commit_callbacks):
    from newsroom.models import NavLink
    from newsroom.selectors import site_cache_clear
    from subscribers.admin_services import mailing_list_save

    published(slug="framed")
    client.get("/newsletter/framed/")

    NavLink.objects.create(label="Brand new link", url="/pages/new/", position=99)
    site_cache_clear()
    assert "Brand new link" in client.get("/newsletter/framed/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        mailing_list_save(mailing_list=MailingListFactory.build(name="A fresh list", public=True))
    assert "A fresh list" in client.get("/newsletter/framed/").content.decode()


def test_addresses_with_unknown_query_strings_are_served_but_never_stored(client):
    # Only the page cache adds an ETag: without one, the page was built by the view.
    published(slug="utm", title="Robots and more")
    for _ in range(2):
        tracked = client.get("/newsletter/utm/?utm_source=mail")
        search = client.get("/newsletter/?q=robots")
        assert tracked.status_code == 200 and "ETag" not in tracked
        assert "Robots and more" in search.content.decode() and "ETag" not in search
        repeated = client.get("/newsletter/?page=1&page=1")
        assert repeated.status_code == 200 and "ETag" not in repeated


def _with_message(client: Client, text: str) -> None:
    # A reader with a pending flash message, as after a redirect (cookie storage).
    request = HttpRequest()
    storage = CookieStorage(request)
    storage.add(constants.SUCCESS, text)
    response = HttpResponse()
    storage.update(response)
    client.cookies["messages"] = response.cookies["messages"].value


def test_a_reader_with_a_pending_message_sees_it_and_it_is_not_stored_for_others(client):
    published(slug="messaged")
    _with_message(client, "Your preferences are saved.")
    assert "Your preferences are saved." in client.get("/newsletter/messaged/").content.decode()
    assert "Your preferences are saved." not in Client().get("/newsletter/messaged/").content.decode()


def test_a_staff_preview_of_an_unpublished_issue_is_never_stored(admin_client):
    from testing.factories import make_full_issue

    make_full_issue(slug="secret", title="Not out yet", status=IssueStatus.DRAFT)
    preview = admin_client.get("/newsletter/secret/")
    assert "Not out yet" in preview.content.decode() and "ETag" not in preview
    assert "no-store" in preview["Cache-Control"]
    assert Client().get("/newsletter/secret/").status_code == 404


def test_the_subscribe_form_on_a_cached_page_subscribes_a_reader(celery_eager, django_capture_on_commit_callbacks):
    daily = MailingListFactory(name="Daily digest", public=True, default=True)
    published(slug="signup")
    Client().get("/newsletter/signup/")  # the first visitor fills the cache
    reader = Client(enforce_csrf_checks=True)
    page = reader.get("/newsletter/signup/")
    assert "ETag" in page and not page.cookies
    html = page.content.decode()
    form = re.search(r'<form method="post" action="([^"]+)" class="subscribe-form".*?</form>', html, re.S)
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(0)))
    checked = re.findall(r'name="lists" value="(\d+)"[^>]*checked', form.group(0))
    with django_capture_on_commit_callbacks(execute=True):
        response = reader.post(
            form.group(1),
            {**fields, "email": "cached@example.org", "lists": checked},
            HTTP_SEC_FETCH_SITE="same-origin",
            REMOTE_ADDR="203.0.113.9",
        )
    assert response.status_code == 302 and response["Location"] == "/subscribe/thanks/"
    subscriber = Subscriber.objects.get(email="cached@example.org")
    assert subscriber.status == SubscriberStatus.PENDING
    assert list(subscriber.lists.all()) == [daily]
    assert subscriber.consents.get().form == "subscribe form on /newsletter/signup/"
