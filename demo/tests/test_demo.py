"""`manage.py load_demo`: what `make run` loads and prints, every time."""

from __future__ import annotations

import io
import re
import stat
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from demo import content
from issues.drafts import issue_create_from_template
from issues.models import Issue, IssueStatus, IssueTemplate, IssueTransition, Section, SectionItem, SectionKind
from issues.rendering import render_web_sections
from newsroom.models import NavLink, SitePage
from subscribers.models import Consent, MailingList, Subscriber, SubscriberStatus

pytestmark = pytest.mark.django_db

CREDENTIAL_LINE = re.compile(r"username: (\S+)\s+password: (\S+)")


@pytest.fixture(autouse=True)
def _laptop(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.DEBUG = True


def load_demo() -> str:
    out = io.StringIO()
    call_command("load_demo", "--base-url", "http://127.0.0.1:8000", stdout=out)
    return out.getvalue()


def printed_credentials(output: str) -> dict[str, str]:
    return dict(CREDENTIAL_LINE.findall(output))


def row_counts() -> dict[str, int]:
    models = [User, Issue, Section, SectionItem, IssueTransition, NavLink, SitePage, MailingList, Subscriber, Consent]
    models.append(IssueTemplate)
    return {model.__name__: model.objects.count() for model in models}


def test_it_prints_the_admin_url_and_a_password_that_signs_in(client):
    output = load_demo()

    assert "http://127.0.0.1:8000/admin/" in output
    credentials = printed_credentials(output)
    assert set(credentials) == {"admin", "editor", "contributor"}
    assert client.login(username="admin", password=credentials["admin"])
    page = client.get("/admin/issues/issue/")
    assert page.status_code == 200
    assert "Small models have a big week" in page.text
    assert "Agents get a budget" in page.text


def test_the_editor_and_contributor_are_in_their_groups():
    credentials = printed_credentials(load_demo())

    editor = User.objects.get(username="editor")
    contributor = User.objects.get(username="contributor")
    assert editor.check_password(credentials["editor"])
    assert contributor.check_password(credentials["contributor"])
    assert list(editor.groups.values_list("name", flat=True)) == ["Editors"]
    assert list(contributor.groups.values_list("name", flat=True)) == ["Contributors"]
    assert editor.has_perm("issues.approve_issue")
    assert not contributor.has_perm("issues.approve_issue")
    assert not editor.is_superuser


def test_the_credentials_file_is_readable_by_its_owner_only(settings):
    credentials = printed_credentials(load_demo())

    path = settings.VAR_DIR / "demo-credentials.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"admin {credentials['admin']}" in path.read_text()


def test_a_second_run_adds_nothing_and_prints_the_same_passwords():
    first = load_demo()
    counts = row_counts()

    second = load_demo()

    assert row_counts() == counts
    assert printed_credentials(second) == printed_credentials(first)
    assert "nothing added" in second


def test_a_lost_credentials_file_gets_new_passwords_that_work(settings, client):
    old = printed_credentials(load_demo())
    (settings.VAR_DIR / "demo-credentials.txt").unlink()

    new = printed_credentials(load_demo())

    assert new["admin"] != old["admin"]
    assert client.login(username="admin", password=new["admin"])
    assert User.objects.filter(username="admin").count() == 1


def test_a_password_changed_in_the_admin_is_not_overwritten_but_flagged():
    load_demo()
    admin = User.objects.get(username="admin")
    admin.set_password("a-password-the-owner-chose-77")
    admin.save()

    output = load_demo()

    admin.refresh_from_db()
    assert admin.check_password("a-password-the-owner-chose-77")
    assert "no longer works" in output


def test_one_issue_is_sent_and_public_and_one_is_approved_and_ready():
    load_demo()

    sent = Issue.objects.get(slug=content.SENT_ISSUE["slug"])
    draft = Issue.objects.get(status=IssueStatus.APPROVED)
    assert sent.publish_date is not None
    assert sent.publish_date < timezone.now() - timedelta(days=1)
    assert draft.publish_date is None
    assert list(sent.transitions.order_by("id").values_list("to_status", flat=True)) == [
        "review",
        "approved",
        "scheduled",
        "sending",
        "sent",
    ]
    assert draft.transitions.first().to_status == "approved"


@pytest.mark.parametrize("slug", ["small-models-have-a-big-week", "agents-get-a-budget"])
def test_each_issue_has_the_reference_shape(slug):
    load_demo()
    issue = Issue.objects.get(slug=slug)
    sections = list(issue.sections.prefetch_related("items"))
    kinds = [s.kind for s in sections]

    leads = [s for s in sections if s.kind == SectionKind.LEAD]
    assert 3 <= len(leads) <= 5
    assert kinds[len(leads) :] == [SectionKind.HIGHLIGHT, SectionKind.TOOL, SectionKind.QUICK_LINKS]
    for lead in leads:
        bullets = list(lead.items.all())
        assert 3 <= len(bullets) <= 4
        assert all(b.label and b.text for b in bullets)
        assert lead.body.startswith("<p>") and lead.analysis.startswith("<p>")
        assert lead.link_url.startswith("https://example.")
    highlight, tool, quick = sections[len(leads) :]
    assert highlight.partner_name and highlight.link_url and highlight.link_label and highlight.body
    assert 3 <= tool.items.count() <= 4 and tool.link_url
    assert 6 <= quick.items.count() <= 10
    assert all(item.url.startswith("https://example.") for item in quick.items.all())


@pytest.mark.parametrize("slug", ["small-models-have-a-big-week", "agents-get-a-budget"])
def test_each_issue_is_an_eight_minute_read_with_a_described_cover(slug):
    load_demo()
    issue = Issue.objects.get(slug=slug)

    assert 1500 <= issue.word_count <= 2000
    assert issue.reading_minutes == 8
    assert issue.cover_alt
    assert issue.cover_image.name.endswith(".png")
    with issue.cover_image.open("rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_deleted_cover_file_is_drawn_again():
    load_demo()
    issue = Issue.objects.get(slug="agents-get-a-budget")
    name = str(issue.cover_image.name)
    issue.cover_image.storage.delete(name)

    load_demo()

    issue.refresh_from_db()
    assert issue.cover_image.storage.exists(str(issue.cover_image.name))


def test_readers_lists_pages_and_navigation_are_loaded(client):
    load_demo()

    assert MailingList.objects.get(default=True).name == "Daily digest"
    assert MailingList.objects.filter(name="Weekly deep dive").exists()
    assert Subscriber.objects.filter(status=SubscriberStatus.ACTIVE).count() >= 3
    assert Subscriber.objects.filter(status=SubscriberStatus.PENDING).count() >= 2
    assert list(NavLink.objects.values_list("label", flat=True)) == ["Courses", "Guides", "Tools", "Videos", "News"]
    page = client.get("/pages/privacy/")
    assert page.status_code == 200
    for label in ("Privacy Policy", "Support", "Advertise with us", "Courses", "Guides", "Videos"):
        assert label in page.text
    assert "unsubscribe" in page.text


def test_navigation_an_editor_rearranged_is_kept():
    load_demo()
    NavLink.objects.exclude(label="News").delete()

    load_demo()

    assert list(NavLink.objects.values_list("label", flat=True)) == ["News"]


def test_it_refuses_to_run_on_a_production_site(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("load_demo", stdout=io.StringIO())

    assert not User.objects.filter(username="admin").exists()


def test_the_printed_links_follow_the_address_make_run_serves(monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")  # noqa: S104 - an address string, nothing binds
    monkeypatch.setenv("PORT", "8765")
    out = io.StringIO()

    call_command("load_demo", stdout=out)

    assert "Admin:   http://127.0.0.1:8765/admin/" in out.getvalue()
    assert "Outbox:  http://127.0.0.1:8765/dev/outbox/" in out.getvalue()


def test_it_ships_a_template_of_the_reference_shape_that_starts_a_draft(client):
    credentials = printed_credentials(load_demo())
    contributor = User.objects.get(username="contributor")

    template = IssueTemplate.objects.get()
    issue = issue_create_from_template(template=template, acting_user=contributor, title="Tomorrow's digest")

    kinds = [s.kind for s in issue.sections.order_by("position")]
    assert kinds == [SectionKind.LEAD] * 3 + [SectionKind.HIGHLIGHT, SectionKind.TOOL, SectionKind.QUICK_LINKS]
    assert issue.status == IssueStatus.DRAFT and template.created_by.username == "editor"
    assert "Special highlight from our network" in str(render_web_sections(issue))
    # The issue-level texts come with it.
    assert (issue.subject, issue.preheader) == ("The Newsroom Daily", content.DAILY_TEMPLATE["preheader"])
    assert [a.user.username for a in issue.authors.all()] == ["editor"]
    assert client.login(username="editor", password=credentials["editor"])
    assert "Daily digest (reference shape)" in client.get("/admin/issues/issuetemplate/").text


def test_the_demo_issues_label_their_highlight_with_the_network_label():
    load_demo()

    for issue in Issue.objects.filter(slug__in=[data["slug"] for data in content.ISSUES]):
        assert issue.sections.get(kind=SectionKind.HIGHLIGHT).sponsor_label == "Special highlight from our network"


API_KEY_LINE = re.compile(r"Bearer (nr_[A-Za-z0-9_-]+)")


def test_it_prints_an_api_key_of_the_editor_that_works_and_stays_the_same(client):
    first = load_demo()
    key = API_KEY_LINE.search(first).group(1)
    response = client.get("/api/v1/lists", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert {m["slug"] for m in response.json()} == {"daily-digest", "weekly-deep-dive"}
    assert API_KEY_LINE.search(load_demo()).group(1) == key


def test_a_lost_credentials_file_retires_the_old_demo_key(settings, client):
    old = API_KEY_LINE.search(load_demo()).group(1)
    (settings.VAR_DIR / "demo-credentials.txt").unlink()
    new = API_KEY_LINE.search(load_demo()).group(1)
    assert new != old
    assert client.get("/api/v1/lists", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert client.get("/api/v1/lists", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_the_demo_archive_has_more_than_a_page_tags_on_several_issues_and_authors_with_avatars(client):
    from issues.models import Author
    from issues.selectors import archive_tags, public_issues
    from issues.views import ARCHIVE_PAGE_SIZE

    load_demo()

    assert public_issues().count() > ARCHIVE_PAGE_SIZE
    assert client.get("/newsletter/", {"page": "2"}).status_code == 200
    tags = archive_tags()
    assert len(tags) >= 5 and all(tag.public_count >= 2 for tag in tags)
    assert public_issues().filter(cover_image="").exists()  # their previews use the generated card
    authors = Author.objects.all()
    assert authors and all(author.avatar.name for author in authors)


def test_the_demo_has_engagement_segments_that_match_readers_and_machine_opens_apart(client):
    from delivery.analytics import send_figures
    from delivery.models import Send
    from subscribers.models import Segment
    from subscribers.selectors import segment_count

    load_demo()
    load_demo()  # a second run adds no second send

    send = Send.objects.get(issue__slug="small-models-have-a-big-week")
    figures = {fig.key: fig.count for fig in send_figures(sends=Send.objects.filter(pk=send.pk))}
    assert figures["opened"] > 0 and figures["machine_opened"] > 0 and figures["clicked"] > 0
    # The engagement segments (the demo's custom-field segment, "Supporters", is tested below).
    counts = {segment.name: segment_count(segment) for segment in Segment.objects.filter(field__isnull=True)}
    assert len(counts) == 4 and all(counts.values()), counts
    assert Subscriber.objects.filter(received_count=1).count() == send.total


def test_an_outgoing_webhook_endpoint_points_at_the_demo_receiver():
    from outbound.models import WebhookEndpoint

    load_demo()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url.startswith("http://127.0.0.1:") and "subscriber.confirmed" in endpoint.events
    load_demo()
    assert WebhookEndpoint.objects.count() == 1


def test_demo_readers_carry_custom_fields_and_a_segment_uses_one():
    from subscribers.models import CustomField, Segment
    from subscribers.selectors import segment_filter

    load_demo()
    assert set(CustomField.objects.values_list("key", flat=True)) >= {"city", "plan"}
    assert Subscriber.objects.get(email="ada.reader@example.org").attributes["city"] == "London"
    segment = Segment.objects.get(field__key="plan")
    supporters = set(Subscriber.objects.filter(segment_filter(segment)).values_list("email", flat=True))
    assert supporters == {"ada.reader@example.org", "chioma.reader@example.net"}


def test_the_daily_digest_has_the_sunset_policy_on_with_readers_asked_and_one_inactive(client):
    from automations.models import NoticeOutcome, Run, SunsetNotice, Trigger

    load_demo()
    load_demo()  # a second run asks no one again
    daily = MailingList.objects.get(slug="daily-digest")
    assert (daily.sunset_enabled, daily.sunset_after_sends, daily.sunset_grace_days) == (True, 1, 14)
    waiting = SunsetNotice.objects.filter(outcome=NoticeOutcome.WAITING)
    # Asked: the daily digest's readers who opened and clicked nothing of the demo send (machines aside).
    quiet = Subscriber.objects.filter(
        lists=daily, status=SubscriberStatus.ACTIVE, last_engaged_at__isnull=True, deliveries__isnull=False
    )
    assert waiting.count() == quiet.count() > 0
    assert Run.objects.filter(sequence__trigger=Trigger.SUNSET).count() == waiting.count()
    inactive = Subscriber.objects.get(status=SubscriberStatus.INACTIVE)
    assert SunsetNotice.objects.get(subscriber=inactive).outcome == NoticeOutcome.INACTIVE
    client.force_login(User.objects.get(username="editor"))
    page = client.get("/admin/subscribers/mailinglist/")
    assert "After 1 send, 14 days to answer" in page.content.decode()


def test_demo_readers_are_in_several_time_zones_for_a_send_at_each_readers_local_time():
    from delivery import zones

    load_demo()

    daily = MailingList.objects.get(name="Daily digest")
    # Ada and the engagement demo's readers have no zone (the publication's is used), Bram is in Amsterdam,
    # Dev in New York; Chioma (Lagos) reads the weekly.
    by_zone = zones.audience_zones(lists=[daily], segment=None)
    assert set(by_zone) == {"", "Europe/Amsterdam", "America/New_York"}
    assert (by_zone["Europe/Amsterdam"], by_zone["America/New_York"]) == (1, 1)
    assert Subscriber.objects.get(email="chioma.reader@example.net").time_zone == "Africa/Lagos"
