"""The composer's endpoint on the issue page: optimistic locking, autosave
without a revision each time, per-section validation, permissions and the
read-only states, and inline rich text through all three renderers."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from issues.models import Issue, IssueStatus, SectionItem, SectionKind
from issues.rendering import render_email, render_web_sections
from issues.services import issue_refresh_stats
from issues.tests.composer_helpers import composer_post, composer_state
from testing.factories import IssueFactory, SectionFactory, make_editor

pytestmark = pytest.mark.django_db


def _client(user: object) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)  # type: ignore[arg-type]
    return client


def _lead(heading: str = "Lead", **extra: object) -> dict[str, Any]:
    return {"id": None, "kind": SectionKind.LEAD, "heading": heading, "body": "<p>Opening.</p>", "items": [], **extra}


def _olga() -> object:
    other = make_editor("olga")
    other.first_name, other.last_name = "Olga", "Berg"
    other.save()
    return other


def test_a_save_based_on_an_older_version_is_refused_and_names_who_changed_it(editor) -> None:
    issue = IssueFactory.create(title="Shared")
    mine, theirs = _client(editor), _client(_olga())
    state = composer_state(mine, issue)
    assert composer_post(theirs, issue, sections=[_lead("Theirs")], version=state["version"]).status_code == 200
    response = composer_post(mine, issue, sections=[_lead("Mine")], version=state["version"])
    assert response.status_code == 409
    assert response.json()["conflict"] is True and "Olga Berg changed this issue" in response.json()["error"]
    assert "reload" in response.json()["error"]
    assert list(issue.sections.values_list("heading", flat=True)) == ["Theirs"]


def test_the_issue_form_based_on_an_older_version_is_refused_too(editor) -> None:
    issue = IssueFactory.create(title="Old title")
    client, other = _client(editor), _client(_olga())
    from issues.tests.test_admin_issue import form_data

    change = reverse("admin:issues_issue_change", args=[issue.pk])
    data = form_data(client.get(change).content.decode(), "issue_form")
    composer_post(other, issue, sections=[], version=int(data["base_version"]), fields={"title": "Olga's title"})
    response = client.post(change, data | {"title": "Edith's title"})
    assert response.status_code == 200
    assert "Olga Berg changed this issue" in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).title == "Olga's title"


def test_one_bad_section_is_reported_at_its_fields_and_the_others_save(editor) -> None:
    issue = IssueFactory.create()
    client = _client(editor)
    sections = [
        _lead("Good lead"),
        {"kind": SectionKind.QUICK_LINKS, "heading": "Light Bytes", "items": [{"text": "A line", "url": "nope"}]},
        _lead("Bad link", link_url="javascript:alert(1)"),
    ]
    response = composer_post(client, issue, sections=sections, version=issue.version, fields={"cover_alt": "x"})
    answer = response.json()
    assert response.status_code == 200 and answer["ok"] is False
    assert answer["sections"][0]["errors"] == {}
    assert "Enter a valid URL." in answer["sections"][1]["errors"]["items.0.url"]
    assert answer["sections"][2]["errors"]["link_url"]
    assert list(issue.sections.values_list("heading", flat=True)) == ["Good lead"]
    assert not SectionItem.objects.filter(section__issue=issue).exists()  # nothing half of the quick links


def test_sections_are_saved_in_the_order_sent_and_left_out_ones_are_deleted(editor) -> None:
    issue = IssueFactory.create()
    first, second, gone = (SectionFactory.create(issue=issue, heading=h, position=n) for n, h in enumerate("ABC"))
    client = _client(editor)
    sections = [
        {"id": second.pk, "kind": second.kind, "heading": "B"},
        _lead("New"),
        {"id": first.pk, "kind": first.kind, "heading": "A"},
    ]
    assert composer_post(client, issue, sections=sections, version=issue.version).json()["ok"]
    assert list(issue.sections.values_list("heading", flat=True)) == ["B", "New", "A"]
    assert not issue.sections.filter(pk=gone.pk).exists()


def test_a_contributor_cannot_change_an_issue_that_left_draft_nor_its_status(contributor) -> None:
    issue = IssueFactory.create(status=IssueStatus.REVIEW, title="In review")
    client = _client(contributor)
    response = composer_post(client, issue, sections=[], version=issue.version, fields={"title": "Changed"})
    assert response.status_code == 403
    assert "Only editors" in response.json()["error"]
    draft = IssueFactory.create()
    crafted = {"title": "Mine", "status": IssueStatus.APPROVED}
    response = composer_post(client, draft, sections=[], version=draft.version, fields=crafted)
    assert response.status_code == 400
    assert Issue.objects.get(pk=draft.pk).status == IssueStatus.DRAFT
    assert Issue.objects.get(pk=issue.pk).title == "In review"


@pytest.mark.parametrize("status", [IssueStatus.SCHEDULED, IssueStatus.SENDING])
def test_a_scheduled_or_sending_issue_is_read_only_in_the_composer(editor, status: str) -> None:
    issue = IssueFactory.create(status=status)
    SectionFactory.create(issue=issue, heading="Frozen")
    client = _client(editor)
    assert composer_state(client, issue)["editable"] is False
    response = composer_post(client, issue, sections=[_lead("Thawed")], version=issue.version)
    assert response.status_code == 403
    assert list(issue.sections.values_list("heading", flat=True)) == ["Frozen"]


def test_a_body_that_is_not_a_composer_save_is_refused_with_a_message(editor) -> None:
    issue = IssueFactory.create()
    client = _client(editor)
    url = reverse("admin:issues_issue_compose", args=[issue.pk])
    assert client.post(url, "not json", content_type="application/json").status_code == 400
    response = composer_post(client, issue, sections=[{"kind": "lead", "bogus": "x"}], version=issue.version)
    assert response.status_code == 400 and "section" in response.json()["error"]


def test_inline_rich_text_keeps_bold_italic_and_links_in_web_email_and_text(editor) -> None:
    issue = IssueFactory.create()
    client = _client(editor)
    link = '<a href="https://x.example/c">per the maker</a>'
    text = f"<p>Chips <strong>ship</strong> <i>early</i> {link}<script>x</script></p>"
    line = {
        "kind": SectionKind.QUICK_LINKS,
        "heading": "Light Bytes",
        "items": [{"text": text, "url": "https://x.example/c"}],
    }
    assert composer_post(client, issue, sections=[line], version=issue.version).json()["ok"]
    stored = SectionItem.objects.get(section__issue=issue).text
    assert (
        stored == 'Chips <strong>ship</strong> <i>early</i> <a href="https://x.example/c" rel="noopener noreferrer">'
        "per the maker</a>"
    )
    issue = Issue.objects.get(pk=issue.pk)
    web = render_web_sections(issue)
    assert (
        "<strong>ship</strong>" in web
        and 'href="https://x.example/c"' in web
        and '<a href="https://x.example/c" rel="noopener noreferrer"><a' not in web
    )
    email = render_email(issue)
    assert "<strong>ship</strong>" in email.html
    assert "Chips ship early [per the maker](https://x.example/c)" in email.text


def test_an_autosave_writes_only_what_changed_and_an_unchanged_section_is_sent_by_its_id(editor) -> None:
    issue = IssueFactory.create(title="Three sections")
    client = _client(editor)
    items = [{"label": "", "text": "A <b>bold</b> detail", "url": ""}]
    sections = [_lead(name, items=items) for name in ("One", "Two", "Three")]
    first = composer_post(client, issue, sections=sections, version=1)
    one, two, three = (entry["id"] for entry in first.json()["sections"])
    first_count = Issue.objects.get(pk=issue.pk).word_count
    item_ids = {pk: set(SectionItem.objects.filter(section_id=pk).values_list("pk", flat=True)) for pk in (two, three)}
    # Two's heading changed (its items did not), Three changed its only item, One moved to the end.
    changed = [
        _lead("Two, changed", id=two, items=items),
        _lead("Three", id=three, items=[{"label": "", "text": "Another longer detail", "url": ""}]),
        {"id": one},
    ]
    second = composer_post(client, issue, sections=changed, version=first.json()["version"])
    assert second.status_code == 200 and second.json()["ok"]
    assert [entry["id"] for entry in second.json()["sections"]] == [two, three, one]
    assert list(issue.sections.values_list("heading", flat=True)) == ["Two, changed", "Three", "One"]
    assert set(SectionItem.objects.filter(section_id=two).values_list("pk", flat=True)) == item_ids[two]  # kept
    assert SectionItem.objects.get(section_id=three).text == "Another longer detail"
    assert SectionItem.objects.filter(section_id=one).count() == 1
    # The word count is of what is stored now, kept sections and items included.
    counted = Issue.objects.get(pk=issue.pk).word_count
    assert counted == issue_refresh_stats(issue=issue, pages_changed=False).word_count != first_count


def test_an_unchanged_section_that_is_not_this_issues_is_refused_and_nothing_is_stored(editor) -> None:
    issue, other = IssueFactory.create(title="Mine"), IssueFactory.create()
    kept = SectionFactory.create(issue=issue, heading="Kept")
    foreign = SectionFactory.create(issue=other, heading="Not mine")
    client = _client(editor)
    sections = [_lead("New one"), {"id": kept.pk}, {"id": foreign.pk}]
    response = composer_post(client, issue, sections=sections, version=issue.version, fields={"title": "Changed"})
    assert response.status_code == 400 and str(foreign.pk) in response.json()["error"]
    assert list(issue.sections.values_list("heading", flat=True)) == ["Kept"]
    assert Issue.objects.get(pk=issue.pk).title == "Mine"


def test_an_autosave_of_one_changed_heading_runs_a_fixed_few_queries(editor, django_assert_num_queries: Any) -> None:
    issue = IssueFactory.create()
    for position in range(6):
        section = SectionFactory.create(issue=issue, position=position, heading=f"Story {position}")
        SectionItem.objects.create(section=section, position=0, text="A detail", url="https://x.example/")
    client = _client(editor)
    state = composer_state(client, issue)
    first, *others = state["sections"]
    body = [{**first, "heading": "Changed", "key": "s0"}, *({"id": s["id"]} for s in others)]
    taken = composer_post(client, issue, sections=body, version=state["version"], session="abcdef12")
    body[0]["heading"] = "Changed again"  # the session's revision is taken: now a plain autosave
    # The user (the session is in the cache); the transaction (2); the user's permissions
    # (core.auth: one query); the issue locked; its sections with their items (one join:
    # the word count reads them all); the section; the issue's version.
    with django_assert_num_queries(8):
        response = composer_post(client, issue, sections=body, version=taken.json()["version"], session="abcdef12")
    assert response.json()["ok"]
    assert issue.sections.get(pk=first["id"]).heading == "Changed again"


def test_authors_tags_and_publish_date_save_by_themselves_and_a_bad_one_keeps_its_value(editor) -> None:
    from issues.models import Author, Tag

    issue = IssueFactory.create()
    ada, bo = Author.objects.create(name="Ada", slug="ada"), Author.objects.create(name="Bo", slug="bo")
    chips = Tag.objects.create(name="Chips", slug="chips")
    client = _client(editor)
    fields = {"authors": [str(ada.pk), str(bo.pk)], "tags": [str(chips.pk)], "publish_date": ["2026-12-02", "07:30"]}
    response = composer_post(client, issue, sections=[], version=issue.version, fields=fields)
    assert response.json()["ok"], response.json()
    issue = Issue.objects.get(pk=issue.pk)
    assert set(issue.authors.all()) == {ada, bo} and list(issue.tags.all()) == [chips]
    assert timezone.localtime(issue.publish_date).strftime("%Y-%m-%d %H:%M") == "2026-12-02 07:30"

    bad = {"authors": [str(ada.pk)], "tags": ["999999"], "publish_date": ["tomorrow", ""]}
    response = composer_post(client, issue, sections=[], version=response.json()["version"], fields=bad)
    answer = response.json()
    assert answer["ok"] is False and "999999" in answer["issue_errors"]["tags"][0]
    assert answer["issue_errors"]["publish_date"] == ["Enter a valid date."]
    issue = Issue.objects.get(pk=issue.pk)
    assert list(issue.authors.all()) == [ada]  # the valid one saved
    assert list(issue.tags.all()) == [chips]
    assert timezone.localtime(issue.publish_date).strftime("%H:%M") == "07:30"


def _cover_post(client: Client, issue: Issue, *, content: bytes, alt: str, version: int) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("cover.png", content, content_type="image/png")
    url = reverse("admin:issues_issue_cover", args=[issue.pk])
    return client.post(url, {"cover_image": upload, "cover_alt": alt, "version": version})


def test_a_cover_chosen_in_the_composer_is_stored_without_save_with_its_alt_text(editor) -> None:
    from issues.tests.test_admin_issue import png_bytes

    issue = IssueFactory.create()
    response = _cover_post(_client(editor), issue, content=png_bytes(), alt=" A blue square ", version=issue.version)
    answer = response.json()
    assert response.status_code == 200 and answer["ok"] and answer["version"] == issue.version + 1
    stored = Issue.objects.get(pk=issue.pk)
    assert stored.cover_image.name.startswith("covers/") and stored.cover_image.name.endswith(".png")
    assert stored.cover_alt == "A blue square" and answer["cover_url"] == stored.cover_image.url


@pytest.mark.parametrize(
    ("content", "alt", "field"),
    [(b"%PDF-1.4 not an image", "A cover", "cover_image"), (None, "", "cover_alt")],
    ids=["not-an-image", "no-alt-text"],
)
def test_a_refused_cover_stores_nothing_and_says_why_at_its_field(editor, content: Any, alt: str, field: str) -> None:
    from issues.tests.test_admin_issue import png_bytes

    issue = IssueFactory.create(cover_alt="")
    response = _cover_post(_client(editor), issue, content=content or png_bytes(), alt=alt, version=issue.version)
    answer = response.json()
    assert response.status_code == 200 and answer["ok"] is False and answer["issue_errors"][field]
    stored = Issue.objects.get(pk=issue.pk)
    assert (stored.cover_image.name, stored.cover_alt, stored.version) == ("", "", issue.version)


def test_removing_the_cover_saves_by_itself_and_a_stale_page_cannot_remove_it(editor) -> None:
    from issues.tests.test_admin_issue import png_bytes

    issue = IssueFactory.create()
    client = _client(editor)
    _cover_post(client, issue, content=png_bytes(), alt="A blue square", version=issue.version)
    url = reverse("admin:issues_issue_cover", args=[issue.pk])

    stale = client.post(url, {"remove": "1", "version": issue.version})
    assert stale.status_code == 409 and Issue.objects.get(pk=issue.pk).cover_image

    answer = client.post(url, {"remove": "1", "version": issue.version + 1}).json()
    stored = Issue.objects.get(pk=issue.pk)
    assert answer["ok"] and answer["cover_url"] == "" and answer["version"] == issue.version + 2
    assert not stored.cover_image and stored.version == issue.version + 2


def test_a_cover_based_on_an_older_version_is_refused(editor) -> None:
    from issues.tests.test_admin_issue import png_bytes

    issue = IssueFactory.create()
    Issue.objects.filter(pk=issue.pk).update(version=issue.version + 1)
    response = _cover_post(_client(editor), issue, content=png_bytes(), alt="x", version=issue.version)
    assert response.status_code == 409 and response.json()["conflict"] is True
    assert not Issue.objects.get(pk=issue.pk).cover_image
