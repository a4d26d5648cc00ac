import pytest

from issues.models import IssueStatus
from issues.selectors import public_cache_clear
from issues.tests.public_helpers import published

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.PAGE_CACHE_SECONDS = 300


def test_the_issue_page_is_served_from_the_cache_until_cleared(client, django_assert_max_num_queries):
    issue = published(slug="cached", title="First title")
    assert "First title" in client.get("/newsletter/cached/").content.decode()
    issue.title = "Second title"
    issue.save()
    assert "First title" in client.get("/newsletter/cached/").content.decode()
    public_cache_clear()
    assert "Second title" in client.get("/newsletter/cached/").content.decode()


def test_a_cached_issue_page_needs_no_issue_queries(client, django_assert_max_num_queries):
    published(slug="hot")
    client.get("/newsletter/hot/")
    with django_assert_max_num_queries(3):  # only the site frame (subscribe form)
        assert client.get("/newsletter/hot/").status_code == 200


def test_unpublishing_hides_the_issue_once_the_cache_is_cleared(client):
    issue = published(slug="pulled")
    assert client.get("/newsletter/pulled/").status_code == 200
    issue.status = IssueStatus.DRAFT
    issue.save()
    public_cache_clear()
    assert client.get("/newsletter/pulled/").status_code == 404


def test_the_archive_and_home_pick_up_a_new_issue_after_clear(client):
    published(full=False, title="Alpha")
    client.get("/newsletter/")
    client.get("/")
    published(full=False, title="Bravo")
    assert "Bravo" not in client.get("/newsletter/").content.decode()
    public_cache_clear()
    assert "Bravo" in client.get("/newsletter/").content.decode()
    assert "Bravo" in client.get("/").content.decode()


def test_a_workflow_move_clears_the_cached_page(client, editor, django_capture_on_commit_callbacks):
    from issues.services import issue_transition

    issue = published(slug="moved", status=IssueStatus.APPROVED)
    assert client.get("/newsletter/moved/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue=issue, to_status=IssueStatus.DRAFT, acting_user=editor)
    assert client.get("/newsletter/moved/").status_code == 404


def test_a_dated_issue_appears_once_its_publish_date_passes_without_a_clear(client):
    # Its approval cleared the cache before it was public; the cached lists
    # must not outlive its publish date.
    import time_machine
    from django.utils import timezone

    published(full=False, title="Already out")
    soon = published(
        full=False, title="Going live", slug="going-live", status=IssueStatus.APPROVED, when=timezone.now()
    )
    soon.publish_date = timezone.now() + timezone.timedelta(seconds=1.5)
    soon.save()
    public_cache_clear()
    assert "Going live" not in client.get("/newsletter/").content.decode()
    assert "Going live" not in client.get("/").content.decode()
    assert client.get("/newsletter/going-live/").status_code == 404
    # The clock moves past the publish date (the cache's expiry reads the same clock).
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=2.6)):
        assert "Going live" in client.get("/newsletter/").content.decode()
        assert "Going live" in client.get("/").content.decode()
        assert client.get("/newsletter/going-live/").status_code == 200


def test_the_home_page_makes_the_same_number_of_queries_for_any_number_of_issues(client, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.PAGE_CACHE_SECONDS = 0
    published(full=False)
    client.get("/")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for _ in range(12):
        published(full=False)
    with CaptureQueriesContext(connection) as many:
        client.get("/")
    assert len(many) == len(few)


def test_editing_a_published_issue_shows_at_once(client, editor, django_capture_on_commit_callbacks):
    from issues.services import issue_save, section_save

    issue = published(slug="edited", title="Before the edit")
    section = issue.sections.order_by("position").first()
    assert section is not None
    assert "Before the edit" in client.get("/newsletter/edited/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        issue.title = "After the edit"
        issue_save(issue=issue, acting_user=editor)
    assert "After the edit" in client.get("/newsletter/edited/").content.decode()
    assert "After the edit" in client.get("/newsletter/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        section.heading = "A corrected headline"
        section_save(section=section, acting_user=editor)
    assert "A corrected headline" in client.get("/newsletter/edited/").content.decode()
