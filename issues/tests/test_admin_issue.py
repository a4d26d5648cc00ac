from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from issues.models import Issue, Section, SectionKind
from issues.tests.composer_helpers import composer_post, composer_state
from testing.factories import IssueFactory, SectionFactory, SectionItemFactory, make_full_issue

pytestmark = pytest.mark.django_db


class FormFields(HTMLParser):
    """The values a browser would submit from the page's main admin form."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside = form_id, False
        self.data: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or not a.get("name"):
            if tag == "option" and self.inside and self._select and "selected" in a:
                self.data[self._select] = a.get("value", "")
            return
        name = a["name"]
        if tag == "input" and a.get("type") not in ("submit", "file", "button"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.data[name] = a.get("value", "on")
            else:
                self.data[name] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = name
            self.data[name] = ""
        elif tag == "select":
            self._select = name
            if "multiple" not in a:
                self.data.setdefault(name, "")

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea:
            # Browsers drop the newline that follows <textarea>.
            self.data[self._textarea] = self.data[self._textarea].removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self.inside = False


def form_data(html: str, form_id: str) -> dict[str, str]:
    parser = FormFields(form_id)
    parser.feed(html)
    parser.data.pop("csrfmiddlewaretoken", None)
    return parser.data


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, "PNG")
    return buffer.getvalue()


def new_issue_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Chips, models and a tool",
        "slug": "chips-models-and-a-tool",
        "subject": "",
        "preheader": "Three stories and a tool.",
        "summary": "",
        "cover_alt": "",
        "canonical_url": "",
        "publish_date_0": "",
        "publish_date_1": "",
        "sections-TOTAL_FORMS": "2",
        "sections-INITIAL_FORMS": "0",
        "sections-MIN_NUM_FORMS": "0",
        "sections-MAX_NUM_FORMS": "1000",
        "sections-0-kind": "lead",
        "sections-0-heading": "First story",
        "sections-0-link_url": "",
        "sections-0-position": "1",
        "sections-1-kind": "quick_links",
        "sections-1-heading": "Light Bytes",
        "sections-1-link_url": "",
        "sections-1-position": "2",
        "_save": "Save",
    }
    data.update(overrides)
    return data


@pytest.fixture
def editor_client(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


def test_editor_creates_an_issue_with_sections_from_the_add_form(editor_client, editor) -> None:
    response = editor_client.post(reverse("admin:issues_issue_add"), new_issue_data())
    assert response.status_code == 302, response.content.decode()[:3000]
    issue = Issue.objects.get(slug="chips-models-and-a-tool")
    assert list(issue.sections.values_list("heading", flat=True)) == ["First story", "Light Bytes"]
    assert issue.created_by == editor
    assert issue.word_count == len(["Chips,", "models", "and", "a", "tool"]) + 4


def test_duplicate_slug_gets_a_field_error_and_nothing_is_saved(editor_client) -> None:
    IssueFactory.create(slug="taken")
    response = editor_client.post(reverse("admin:issues_issue_add"), new_issue_data(slug="taken"))
    assert response.status_code == 200
    assert "Another issue already uses this slug; choose a different one." in response.content.decode()
    assert response.context["adminform"].form.errors["slug"]
    assert Issue.objects.count() == 1
    assert not Section.objects.exists()


def test_cover_image_without_alt_text_gets_a_field_error(editor_client) -> None:
    data = new_issue_data(cover_image=SimpleUploadedFile("c.png", png_bytes(), content_type="image/png"))
    response = editor_client.post(reverse("admin:issues_issue_add"), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["cover_alt"] == ["Describe the cover image: alt text is required when an image is set."]
    assert not Issue.objects.exists()


def test_cover_image_with_alt_text_is_stored(editor_client) -> None:
    data = new_issue_data(
        cover_image=SimpleUploadedFile("c.png", png_bytes(), content_type="image/png"), cover_alt="A blue square"
    )
    response = editor_client.post(reverse("admin:issues_issue_add"), data)
    assert response.status_code == 302
    assert Issue.objects.get().cover_image.name.endswith(".png")


def test_a_cover_that_is_not_an_image_gets_a_field_error(editor_client) -> None:
    data = new_issue_data(
        cover_image=SimpleUploadedFile("c.png", b"%PDF-1.4 not an image", content_type="image/png"), cover_alt="x"
    )
    response = editor_client.post(reverse("admin:issues_issue_add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["cover_image"]
    assert not Issue.objects.exists()


def test_an_ftp_link_gets_a_field_error(editor_client) -> None:
    response = editor_client.post(
        reverse("admin:issues_issue_add"), new_issue_data(canonical_url="ftp://example.com/a")
    )
    assert response.status_code == 200
    assert "starting with https://" in str(response.context["adminform"].form.errors["canonical_url"])


def test_ckeditor_upload_of_a_non_image_is_refused_with_a_message(editor_client) -> None:
    upload = SimpleUploadedFile("notes.png", b"this is text, not a picture", content_type="image/png")
    response = editor_client.post("/ckeditor5/image_upload/", {"upload": upload})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "notes.png: The file is not an image (JPEG, PNG, GIF or WebP)."


def test_ckeditor_upload_over_the_size_limit_is_refused_with_a_message(editor_client, settings) -> None:
    settings.IMAGE_UPLOAD_MAX_BYTES = 1024 * 1024
    big = png_bytes() + b"\0" * (1024 * 1024 + 1)
    response = editor_client.post("/ckeditor5/image_upload/", {"upload": SimpleUploadedFile("big.png", big)})
    assert response.status_code == 400
    assert "larger than 1 MB" in response.json()["error"]["message"]


def test_ckeditor_upload_of_an_image_returns_its_url(editor_client) -> None:
    response = editor_client.post("/ckeditor5/image_upload/", {"upload": SimpleUploadedFile("ok.png", png_bytes())})
    assert response.status_code == 200
    url = response.json()["url"]
    # Stored under a name we make (issues/tests/test_image_uploads.py), not the client's.
    assert re.fullmatch(r"/media/uploads/[A-Za-z0-9_-]{22}\.png", url)


def test_ckeditor_upload_needs_a_staff_login() -> None:
    response = Client().post("/ckeditor5/image_upload/", {"upload": SimpleUploadedFile("ok.png", png_bytes())})
    assert response.status_code == 403


def test_section_page_sanitises_rich_text_posted_by_the_browser(editor_client) -> None:
    section = SectionFactory.create(kind=SectionKind.LEAD, heading="Story")
    url = reverse("admin:issues_section_change", args=[section.pk])
    data = form_data(editor_client.get(url).content.decode(), "section_form")
    data["body"] = '<p>Safe</p><script>alert(1)</script><img src="https://x.example/a.png" alt="a" onerror="alert(1)">'
    data["analysis"] = '<a href="javascript:alert(1)">x</a>'
    response = editor_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    section.refresh_from_db()
    assert "<script" not in section.body and "onerror" not in section.body and "Safe" in section.body
    assert "javascript:" not in section.analysis


def test_section_page_shows_the_fields_and_items_of_its_kind(editor_client) -> None:
    tool = SectionFactory.create(kind=SectionKind.TOOL, heading="Summariser")
    SectionItemFactory.create(section=tool, text="Open the app.")
    html = editor_client.get(reverse("admin:issues_section_change", args=[tool.pk])).content.decode()
    assert "Try this yourself (drag to reorder)" in html
    assert "Open the app." in html
    assert 'name="partner_name"' not in html
    highlight = SectionFactory.create(kind=SectionKind.HIGHLIGHT, heading="Partner")
    html = editor_client.get(reverse("admin:issues_section_change", args=[highlight.pk])).content.decode()
    assert 'name="partner_name"' in html
    assert "items-TOTAL_FORMS" not in html


def test_issue_page_shows_word_count_reading_time_and_the_composer_with_every_section(editor_client) -> None:
    issue = IssueFactory.create()
    SectionFactory.create(issue=issue, heading="Alpha")
    response = editor_client.get(reverse("admin:issues_issue_change", args=[issue.pk]))
    html = response.content.decode()
    assert "Reading time" in html and "min read" in html
    assert "issues/composer.js" in html and 'id="composer-state"' in html
    state = response.context["composer_state"]
    assert [(s["id"], s["heading"]) for s in state["sections"]] == [(issue.sections.get().pk, "Alpha")]
    assert state["editable"] is True and state["version"] == issue.version


def test_editor_restores_an_earlier_version_from_the_history_page(editor_client) -> None:
    issue = IssueFactory.create(title="Restorable")
    section = SectionFactory.create(issue=issue, heading="Original heading")
    change = reverse("admin:issues_issue_change", args=[issue.pk])
    data = form_data(editor_client.get(change).content.decode(), "issue_form")
    assert editor_client.post(change, data).status_code == 302
    state = composer_state(editor_client, issue)
    state["sections"][0]["heading"] = "Rewritten heading"
    assert composer_post(editor_client, issue, sections=state["sections"], version=state["version"]).status_code == 200
    assert Section.objects.get(pk=section.pk).heading == "Rewritten heading"
    data = form_data(editor_client.get(change).content.decode(), "issue_form")
    assert editor_client.post(change, data).status_code == 302

    history = editor_client.get(reverse("admin:issues_issue_history", args=[issue.pk])).content.decode()
    from reversion.models import Version

    first = Version.objects.get_for_object(issue).order_by("revision__date_created").first()
    revision_url = reverse("admin:issues_issue_revision", args=[issue.pk, first.pk])
    assert revision_url in history
    page = editor_client.get(revision_url).content.decode()
    assert "Original heading" in page
    response = editor_client.post(revision_url, form_data(page, "issue_form"))
    assert response.status_code == 302
    assert Section.objects.get(pk=section.pk).heading == "Original heading"


def _restore_through_history(client: Client, issue: Issue, version: Any) -> Any:
    url = reverse("admin:issues_issue_revision", args=[issue.pk, version.pk])
    page = client.get(url).content.decode()
    return client.post(url, form_data(page, "issue_form"))


def test_restoring_from_history_brings_back_a_deleted_section_and_keeps_the_status(editor_client, editor) -> None:
    from reversion.models import Version

    from issues.models import IssueStatus
    from issues.services import issue_transition

    issue = make_full_issue()
    change = reverse("admin:issues_issue_change", args=[issue.pk])
    assert (
        editor_client.post(change, form_data(editor_client.get(change).content.decode(), "issue_form")).status_code
        == 302
    )
    tool = issue.sections.get(kind=SectionKind.TOOL)
    tool_pk = tool.pk
    state = composer_state(editor_client, issue)
    kept = [s for s in state["sections"] if s["id"] != tool_pk]
    assert composer_post(editor_client, issue, sections=kept, version=state["version"]).status_code == 200
    assert not Section.objects.filter(pk=tool_pk).exists()
    for target in (IssueStatus.REVIEW, IssueStatus.APPROVED):
        issue_transition(issue=issue, to_status=target, acting_user=editor)

    first = Version.objects.get_for_object(issue).order_by("pk").first()
    page = editor_client.get(reverse("admin:issues_issue_revision", args=[issue.pk, first.pk])).content.decode()
    assert "Approved" in page  # the status shown is today's, not the one stored with the version
    # The version's own text, with the tool section deleted since, is shown before restoring.
    assert "TOOL OF THE DAY: Summariser" in page and "Step 2." in page
    assert Issue.objects.get(pk=issue.pk).sections.filter(pk=tool_pk).count() == 0  # the look was rolled back
    response = _restore_through_history(editor_client, issue, first)
    assert response.status_code == 302
    restored = Section.objects.get(pk=tool_pk)
    assert list(restored.items.values_list("text", flat=True)) == ["Step 1.", "Step 2.", "Step 3."]
    assert Issue.objects.get(pk=issue.pk).status == IssueStatus.APPROVED


def test_history_names_the_section_changed_on_its_own_page(editor_client) -> None:
    issue = IssueFactory.create()
    section = SectionFactory.create(issue=issue, kind=SectionKind.HIGHLIGHT, heading="Partner course")
    url = reverse("admin:issues_section_change", args=[section.pk])
    data = form_data(editor_client.get(url).content.decode(), "section_form")
    data["partner_name"] = "Agent Academy"
    assert editor_client.post(url, data).status_code == 302
    history = editor_client.get(reverse("admin:issues_issue_history", args=[issue.pk])).content.decode()
    assert "Special highlight (sponsored): Partner course: Changed Partner name." in history
    assert "edith" in history


def test_contributor_may_read_the_history_but_not_restore(contributor) -> None:
    import reversion
    from reversion.models import Version

    issue = IssueFactory.create(title="Draft by Carl")
    with reversion.create_revision():
        issue.save()
    client = Client()
    client.force_login(contributor)
    assert client.get(reverse("admin:issues_issue_history", args=[issue.pk])).status_code == 200
    version = Version.objects.get_for_object(issue).get()
    url = reverse("admin:issues_issue_revision", args=[issue.pk, version.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"title": "Restored by Carl"}).status_code == 403


def test_an_empty_slug_is_made_from_the_title(editor_client) -> None:
    response = editor_client.post(
        reverse("admin:issues_issue_add"), new_issue_data(title="Chips & models: the week", slug="")
    )
    assert response.status_code == 302
    assert Issue.objects.get().slug == "chips-models-the-week"


def test_an_empty_slug_clashing_with_another_issue_gets_a_field_error(editor_client) -> None:
    IssueFactory.create(title="Taken", slug="chips-models-the-week")
    response = editor_client.post(
        reverse("admin:issues_issue_add"), new_issue_data(title="Chips & models: the week", slug="")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["slug"] == [
        "Another issue already uses this slug; choose a different one."
    ]
    assert Issue.objects.count() == 1


def test_an_invalid_section_row_saves_nothing_of_the_new_issue(editor_client) -> None:
    data = new_issue_data(**{"sections-1-link_url": "javascript:alert(1)", "sections-0-kind": "lead"})
    response = editor_client.post(reverse("admin:issues_issue_add"), data)
    assert response.status_code == 200
    formset_errors = response.context["inline_admin_formsets"][0].formset.errors
    assert formset_errors[1]["link_url"]
    assert "Please correct the error below." in response.content.decode()
    assert not Issue.objects.exists() and not Section.objects.exists()


def test_an_invalid_section_link_is_refused_at_its_field_and_that_section_keeps_its_text(editor_client) -> None:
    issue = IssueFactory.create(title="Before")
    SectionFactory.create(issue=issue, heading="Kept heading")
    state = composer_state(editor_client, issue)
    state["sections"][0] |= {"heading": "Changed heading", "link_url": "ftp://x.example/a"}
    response = composer_post(
        editor_client, issue, sections=state["sections"], version=state["version"], fields={"title": "After"}
    )
    assert response.status_code == 200
    answer = response.json()
    assert "starting with https://" in answer["sections"][0]["errors"]["link_url"][0]
    issue.refresh_from_db()
    assert issue.title == "After"  # the rest of the save went through
    assert issue.sections.get().heading == "Kept heading"  # nothing of the bad section was saved


def test_an_invalid_item_link_on_the_section_page_saves_nothing(editor_client) -> None:
    section = SectionFactory.create(kind=SectionKind.QUICK_LINKS, heading="Light Bytes")
    SectionItemFactory.create(section=section, text="First", url="https://a.example/")
    url = reverse("admin:issues_section_change", args=[section.pk])
    data = form_data(editor_client.get(url).content.decode(), "section_form")
    data |= {"heading": "Renamed", "items-0-url": "not a link"}
    response = editor_client.post(url, data)
    assert response.status_code == 200
    assert "Enter a valid URL." in response.content.decode()
    section.refresh_from_db()
    assert section.heading == "Light Bytes"
    assert list(section.items.values_list("url", flat=True)) == ["https://a.example/"]


def test_an_oversized_cover_gets_a_field_error(editor_client, settings) -> None:
    settings.IMAGE_UPLOAD_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("c.png", png_bytes() + b"\0" * (1024 * 1024 + 1), content_type="image/png")
    response = editor_client.post(reverse("admin:issues_issue_add"), new_issue_data(cover_image=big, cover_alt="x"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["cover_image"] == ["The image is larger than 1 MB."]
    assert not Issue.objects.exists()


def test_an_image_without_alt_text_in_rich_text_gets_a_field_error_and_nothing_is_saved(editor_client) -> None:
    section = SectionFactory.create(kind=SectionKind.LEAD, heading="Story", body="<p>Before.</p>")
    url = reverse("admin:issues_section_change", args=[section.pk])
    data = form_data(editor_client.get(url).content.decode(), "section_form")
    data |= {
        "heading": "Changed",
        "body": '<p>Chart:</p><figure class="image"><img src="/media/uploads/c.png" alt=""></figure>',
    }
    response = editor_client.post(url, data)
    assert response.status_code == 200
    assert "Every image needs alt text" in str(response.context["adminform"].form.errors["body"])
    section.refresh_from_db()
    assert (section.heading, section.body) == ("Story", "<p>Before.</p>")
    data["body"] = (
        '<p>Chart:</p><figure class="image"><img src="/media/uploads/c.png" alt="Costs fall by half"></figure>'
    )
    assert editor_client.post(url, data).status_code == 302
    section.refresh_from_db()
    assert 'alt="Costs fall by half"' in section.body


def test_deleting_a_section_on_its_page_updates_the_word_count(editor_client) -> None:
    from issues.services import issue_refresh_stats

    issue = IssueFactory.create(title="Two words", summary="")
    keep = SectionFactory.create(issue=issue, heading="", body="<p>one two three</p>")
    gone = SectionFactory.create(issue=issue, heading="", body="<p>" + "word " * 50 + "</p>")
    assert issue_refresh_stats(issue=issue).word_count == 2 + 3 + 50
    response = editor_client.post(reverse("admin:issues_section_delete", args=[gone.pk]), {"post": "yes"})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert list(issue.sections.all()) == [keep]
    assert issue.word_count == 5


def test_every_section_kind_has_a_spec_and_its_three_templates() -> None:
    from django.template.loader import get_template

    from issues.models import SectionKind
    from issues.sections import REGISTRY

    assert set(REGISTRY) == set(SectionKind.values)
    for kind in SectionKind.values:
        for path in (f"web/{kind}.html", f"email/{kind}.html", f"text/{kind}.txt"):
            get_template(f"issues/sections/{path}")


def test_the_issue_page_links_to_its_analytics_for_an_editor(editor_client) -> None:
    issue = IssueFactory.create()
    html = editor_client.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    url = reverse("delivery_analytics:issue", args=[issue.pk])
    assert f'href="{url}" id="issue-analytics-link">Analytics</a>' in html
    assert editor_client.get(url).status_code == 200


def test_the_issue_page_has_no_analytics_link_without_permission_to_view_sends(contributor) -> None:
    client = Client()
    client.force_login(contributor)
    issue = IssueFactory.create()
    response = client.get(reverse("admin:issues_issue_change", args=[issue.pk]))
    assert response.status_code == 200 and "Preview email, web page and text" in response.content.decode()
    assert reverse("delivery_analytics:issue", args=[issue.pk]) not in response.content.decode()
