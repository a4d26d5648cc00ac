"""Deleting issues, and renaming or deleting tags and authors, in the admin:
the public pages change at once, and an issue with sends is kept."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from issues.models import Author, Issue, IssueStatus, IssueTransition, Tag
from issues.services import issues_delete
from issues.tests.public_helpers import published
from testing.factories import IssueFactory, SendFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_on(settings) -> None:
    settings.PAGE_CACHE_SECONDS = 300


@pytest.fixture
def editor_client(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


def _moved_through_the_workflow(issue: Issue, editor) -> Issue:
    for source, target in [("draft", "review"), ("review", "approved"), ("approved", "scheduled")]:
        IssueTransition.objects.create(issue=issue, actor=editor, from_status=source, to_status=target)
    return issue


def test_deleting_a_published_issue_takes_its_page_down_at_once(
    editor_client, editor, django_capture_on_commit_callbacks
) -> None:
    issue = _moved_through_the_workflow(published(slug="gone", status=IssueStatus.APPROVED), editor)
    reader = Client()
    assert reader.get("/newsletter/gone/").status_code == 200
    assert "/newsletter/gone/" in reader.get("/newsletter/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(reverse("admin:issues_issue_delete", args=[issue.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Issue.objects.filter(pk=issue.pk).exists()
    assert not IssueTransition.objects.filter(issue_id=issue.pk).exists()
    assert reader.get("/newsletter/gone/").status_code == 404
    assert "/newsletter/gone/" not in reader.get("/newsletter/").content.decode()


def test_the_delete_page_of_an_issue_with_history_asks_for_confirmation(editor_client, editor) -> None:
    issue = _moved_through_the_workflow(published(slug="moved", status=IssueStatus.APPROVED), editor)
    html = editor_client.get(reverse("admin:issues_issue_delete", args=[issue.pk])).content.decode()
    assert "Are you sure you want to delete" in html
    assert "permission to delete the following" not in html


def test_bulk_delete_takes_the_pages_down_at_once(editor_client, editor, django_capture_on_commit_callbacks) -> None:
    first = _moved_through_the_workflow(published(slug="first", full=False), editor)
    second = published(slug="second", full=False)
    reader = Client()
    assert reader.get("/newsletter/first/").status_code == 200
    assert reader.get("/newsletter/second/").status_code == 200
    confirm = editor_client.post(
        reverse("admin:issues_issue_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk]},
    )
    assert "Are you sure you want to delete the selected issues?" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            reverse("admin:issues_issue_changelist"),
            {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
            follow=True,
        )
    assert "Successfully deleted 2 issues." in response.content.decode()
    assert reader.get("/newsletter/first/").status_code == 404
    assert reader.get("/newsletter/second/").status_code == 404


def test_an_issue_with_a_send_cannot_be_deleted_and_the_page_says_why(editor_client) -> None:
    send = SendFactory.create(issue=published(slug="sent-one", status=IssueStatus.SENT))
    url = reverse("admin:issues_issue_delete", args=[send.issue_id])
    html = editor_client.get(url).content.decode()
    assert "cannot be deleted because it has sends" in html
    assert reverse("admin:delivery_send_change", args=[send.pk]) in html
    assert 'name="post"' not in html
    response = editor_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert Issue.objects.filter(pk=send.issue_id).exists()


def test_bulk_delete_with_an_issue_that_has_a_send_deletes_nothing(editor_client) -> None:
    send = SendFactory.create(issue=published(slug="sent-two", status=IssueStatus.SENT))
    other = published(slug="unsent", full=False)
    data = {"action": "delete_selected", "_selected_action": [send.issue_id, other.pk], "post": "yes"}
    response = editor_client.post(reverse("admin:issues_issue_changelist"), data)
    assert response.status_code == 200
    assert "Nothing was deleted: some of the selected issues have sends." in response.content.decode()
    assert Issue.objects.filter(pk__in=[send.issue_id, other.pk]).count() == 2


def test_a_send_created_after_the_confirmation_page_is_refused_with_a_message(editor_client, monkeypatch) -> None:
    issue = published(slug="raced", status=IssueStatus.APPROVED)
    url = reverse("admin:issues_issue_delete", args=[issue.pk])
    # The confirmation page was shown with no send; one is created before the POST arrives.
    monkeypatch.setattr("issues.admin.IssueAdmin.get_deleted_objects", lambda self, objs, request: ([], {}, set(), []))
    SendFactory.create(issue=issue)
    response = editor_client.post(url, {"post": "yes"}, follow=True)
    assert "Not deleted: “" in response.content.decode()
    assert "has sends" in response.content.decode()
    assert Issue.objects.filter(pk=issue.pk).exists()


def test_renaming_a_tag_shows_on_the_public_pages_at_once(editor_client, django_capture_on_commit_callbacks) -> None:
    tag = Tag.objects.create(name="Chips", slug="chips")
    issue = published(slug="tagged")
    issue.tags.add(tag)
    reader = Client()
    assert "Chips" in reader.get("/newsletter/tagged/").content.decode()
    assert "Chips" in reader.get("/newsletter/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            reverse("admin:issues_tag_change", args=[tag.pk]), {"name": "Semiconductors", "slug": "chips"}
        )
    assert response.status_code == 302
    assert "Semiconductors" in reader.get("/newsletter/tagged/").content.decode()
    assert "Semiconductors" in reader.get("/newsletter/").content.decode()


def test_deleting_a_tag_takes_it_off_the_public_pages_at_once(
    editor_client, django_capture_on_commit_callbacks
) -> None:
    tag = Tag.objects.create(name="Robotics", slug="robotics")
    published(slug="robots").tags.add(tag)
    reader = Client()
    assert "Robotics" in reader.get("/newsletter/robots/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(reverse("admin:issues_tag_delete", args=[tag.pk]), {"post": "yes"})
    assert not Tag.objects.exists()
    assert "Robotics" not in reader.get("/newsletter/robots/").content.decode()


def test_renaming_an_author_shows_on_the_issue_page_at_once(editor_client, django_capture_on_commit_callbacks) -> None:
    author = Author.objects.create(name="Ada Writer", slug="ada")
    published(slug="by-ada").authors.add(author)
    reader = Client()
    assert "Ada Writer" in reader.get("/newsletter/by-ada/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            reverse("admin:issues_author_change", args=[author.pk]), {"name": "Ada Lovelace", "slug": "ada"}
        )
    assert response.status_code == 302
    page = reader.get("/newsletter/by-ada/").content.decode()
    assert "Ada Lovelace" in page and "Ada Writer" not in page


def test_a_contributor_may_not_delete_an_issue(contributor) -> None:
    issue = IssueFactory.create()
    with pytest.raises(PermissionDenied):
        issues_delete(issues=[issue], acting_user=contributor)
    assert Issue.objects.filter(pk=issue.pk).exists()
