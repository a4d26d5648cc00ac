"""The editing session's one revision: taken on the session's first save,
refreshed at most every COMPOSER_REVISION_SECONDS, always on the page's final
save; and an autosave skipping work it does not need (recounting words when
no text changed, clearing the public pages' cache for a draft)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from reversion.models import Version

from issues.models import Issue, IssueStatus, SectionKind
from issues.selectors import public_cache_version
from issues.tests.composer_helpers import composer_post, composer_state
from testing.factories import IssueFactory

pytestmark = pytest.mark.django_db


def _client(user: object) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)  # type: ignore[arg-type]
    return client


def _lead(heading: str, section_id: int | None = None) -> dict[str, Any]:
    return {"id": section_id, "kind": SectionKind.LEAD, "heading": heading, "body": "<p>Opening.</p>", "items": []}


def _recorded(issue: Issue) -> list[str]:
    """The headings each of the issue's revisions recorded, oldest first."""
    found = []
    for version in Version.objects.get_for_object(issue).order_by("pk"):
        sections = version.revision.version_set.filter(content_type__model="section")
        found.append(",".join(sorted(v.field_dict["heading"] for v in sections)))
    return found


class _Session:
    """One editing session's autosaves, as the page sends them."""

    def __init__(self, client: Client, issue: Issue, token: str = "abcdef12") -> None:
        self.client, self.issue, self.token = client, issue, token
        self.version = composer_state(client, issue)["version"]
        self.section_id: int | None = None

    def save(self, heading: str, **extra: Any) -> Any:
        body = [_lead(heading, self.section_id)]
        response = composer_post(self.client, self.issue, sections=body, version=self.version, session=self.token)
        assert response.status_code == 200, response.content
        self.version, self.section_id = response.json()["version"], response.json()["sections"][0]["id"]
        return response

    def final(self, heading: str | None = None) -> Any:
        body: dict[str, Any] = {"version": self.version, "session": self.token, "final": True}
        if heading is not None:
            body |= {"issue": {}, "sections": [{**_lead(heading, self.section_id), "key": "s0"}]}
        url = f"/admin/issues/issue/{self.issue.pk}/compose/"
        return self.client.post(url, body, content_type="application/json")


def test_autosaves_of_one_session_keep_one_revision_and_a_new_session_adds_one(editor) -> None:
    issue = IssueFactory.create()
    session = _Session(_client(editor), issue)
    for n in range(3):
        session.save(f"Take {n}")
    assert len(_recorded(issue)) == 1
    other = _Session(_client(editor), issue, token="99999999")
    other.section_id = session.section_id
    other.save("Take 3")
    assert len(_recorded(issue)) == 2


def test_the_session_revision_is_refreshed_once_it_is_older_than_the_setting(editor, settings) -> None:
    settings.COMPOSER_REVISION_SECONDS = 30
    issue = IssueFactory.create()
    session = _Session(_client(editor), issue)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        session.save("Take 0")
        clock.shift(timedelta(seconds=10))
        session.save("Take 1")
        assert _recorded(issue) == ["Take 0"]  # too young to be taken again
        clock.shift(timedelta(seconds=25))
        session.save("Take 2")
        assert _recorded(issue) == ["Take 2"]  # still one revision, now of the latest state


def test_the_final_save_as_the_editor_leaves_records_the_latest_state(editor) -> None:
    issue = IssueFactory.create()
    session = _Session(_client(editor), issue)
    session.save("Take 0")
    session.save("Take 1")
    assert _recorded(issue) == ["Take 0"]
    response = session.final("Take 2")
    assert response.status_code == 200 and response.json()["ok"]
    assert _recorded(issue) == ["Take 2"]
    assert list(issue.sections.values_list("heading", flat=True)) == ["Take 2"]


def test_leaving_with_nothing_unsaved_records_the_stored_state_and_keeps_the_sections(editor) -> None:
    issue = IssueFactory.create()
    session = _Session(_client(editor), issue)
    session.save("Take 0")
    session.save("Take 1")
    response = session.final()
    assert response.status_code == 200
    assert _recorded(issue) == ["Take 1"]
    assert list(issue.sections.values_list("heading", flat=True)) == ["Take 1"]  # none deleted


def test_leaving_after_someone_else_saved_records_nothing_under_this_session(editor) -> None:
    issue = IssueFactory.create()
    mine, theirs = _Session(_client(editor), issue), _Session(_client(editor), issue, token="99999999")
    mine.save("Mine")
    theirs.version, theirs.section_id = mine.version, mine.section_id
    theirs.save("Theirs")
    response = mine.final()
    assert response.status_code == 409
    assert _recorded(issue) == ["Mine", "Theirs"]


def test_an_autosave_that_changes_no_text_does_not_recount_the_words(editor) -> None:
    issue = IssueFactory.create()
    session = _Session(_client(editor), issue)
    session.save("Three word heading")
    counted = Issue.objects.get(pk=issue.pk).word_count
    Issue.objects.filter(pk=issue.pk).update(word_count=999)  # marks whether the next save recounts
    session.save("Three word heading")
    assert Issue.objects.get(pk=issue.pk).word_count == 999
    session.save("Now a four word heading")
    assert Issue.objects.get(pk=issue.pk).word_count == counted + 2


@pytest.mark.parametrize(("status", "cleared"), [(IssueStatus.DRAFT, False), (IssueStatus.SENT, True)])
def test_an_autosave_clears_the_public_pages_only_when_readers_see_the_issue(
    editor, django_capture_on_commit_callbacks, status: str, cleared: bool
) -> None:
    issue = IssueFactory.create(status=status)
    before = public_cache_version()
    with django_capture_on_commit_callbacks(execute=True):
        _Session(_client(editor), issue).save("Changed heading")
    assert (public_cache_version() != before) is cleared
