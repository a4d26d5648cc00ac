"""Issue 3's "done means", in Chromium: an editor builds an issue of three lead
stories, a highlight, a tool and eight quick links entirely in the admin,
reorders sections and quick links by drag and drop, previews it and sends a
test; a contributor cannot approve it. Also: the demo email at 600 and 375 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from core.models import OutboxMessage
from issues.emails import merge_sample, sample_merge_values
from issues.models import Issue, IssueStatus, PreviewSend, Section, SectionItem, SectionKind
from issues.rendering import render_email
from testing.factories import make_contributor, make_editor
from testing.fixtures import admin_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECTIONS = [
    (SectionKind.LEAD, "A lab releases an open model for small devices"),
    (SectionKind.LEAD, "Chip makers race to cut inference costs"),
    (SectionKind.LEAD, "Regulators publish a draft rulebook for AI audits"),
    (SectionKind.HIGHLIGHT, "Learn to build agents in a weekend"),
    (SectionKind.TOOL, "Briefly, a meeting summariser"),
    (SectionKind.QUICK_LINKS, "Light Bytes"),
]


def _add_section_rows(page: Any) -> None:
    for index, (kind, heading) in enumerate(SECTIONS):
        page.click("#sections-group .add-row a")
        page.select_option(f"#id_sections-{index}-kind", kind)
        page.fill(f"#id_sections-{index}-heading", heading)


# What the editor types on each section page, by heading (after the reorder).
LEAD_TEXT = {
    SECTIONS[0][1]: (
        "Engineers released a compact open model that runs on a phone without a network connection.",
        [("The Size", "It fits in under two gigabytes."), ("The Speed", "It answers in under a second.")],
        "Small models move work off rented servers and onto devices people already own.",
    ),
    SECTIONS[1][1]: (
        "Three chip makers announced parts aimed at serving models more cheaply than today's accelerators.",
        [("The Price", "One part costs a third of the current leader."), ("The Catch", "Software support lags.")],
        "Cheaper inference decides which products can afford to answer every request with a model.",
    ),
    SECTIONS[2][1]: (
        "A regulator published a draft rulebook describing how audits of AI systems should be run.",
        [("The Scope", "It covers hiring and lending tools."), ("The Deadline", "Comments close in May.")],
        "Audits give buyers a way to compare systems on something other than the vendor's word.",
    ),
}
QUICK_LINKS = [(f"Quick news item number {n + 1} in one line.", f"https://news.example.com/{n + 1}") for n in range(8)]


def _open_section(page: Any, live_server: Any, issue: Issue, heading: str) -> Section:
    section = issue.sections.get(heading=heading)
    # The section's own page is still there (the composer on the issue page edits the same fields).
    page.goto(f"{live_server.url}/admin/issues/section/{section.pk}/change/")
    page.wait_for_selector("#section_form")
    return section


def _rich_text(page: Any, field: str, text: str) -> None:
    editable = page.locator(f".field-{field} .ck-editor__editable")
    editable.click()
    editable.type(text)


def _items(page: Any, rows: list[dict[str, str]]) -> None:
    for n, row in enumerate(rows):
        page.click("#items-group .add-row a")
        for name, value in row.items():
            page.fill(f"#id_items-{n}-{name}", value)


def _save_section(page: Any) -> None:
    """Save: the admin goes back to the issue and says the section changed."""
    page.click("input[name=_save]")
    page.wait_for_selector("text=was changed successfully")


def _refuse_a_non_image_upload(page: Any) -> None:
    """A file that is not an image is refused, and the editor is told why."""
    alerts: list[str] = []

    def keep_alert(dialog: Any) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", keep_alert)
    page.locator(".field-body .ck-toolbar input[type=file]").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"plain text, not a picture"}]
    )
    for _ in range(50):
        if alerts:
            break
        page.wait_for_timeout(100)
    page.remove_listener("dialog", keep_alert)
    assert alerts and "The file is not an image" in alerts[0]


def _write_lead(page: Any, live_server: Any, issue: Issue, heading: str, *, try_upload: bool = False) -> None:
    body, details, analysis = LEAD_TEXT[heading]
    _open_section(page, live_server, issue, heading)
    _rich_text(page, "body", body)
    _rich_text(page, "analysis", analysis)
    _items(page, [{"label": label, "text": text} for label, text in details])
    page.fill("#id_link_url", "https://example.com/source/" + heading.split()[1].lower())
    if try_upload:
        _refuse_a_non_image_upload(page)
        _add_an_image_with_alt_text(page)
        screenshot(page, "editorial-03-lead-story")
    _save_section(page)


def _add_an_image_with_alt_text(page: Any) -> None:
    """An uploaded image without alt text is refused at the field; with it, it saves."""
    page.locator(".field-body .ck-toolbar input[type=file]").set_input_files(
        files=[{"name": "chart.png", "mimeType": "image/png", "buffer": _png()}]
    )
    page.wait_for_selector(".field-body .ck-editor__editable img[src*='/media/uploads/']")
    # The upload's pending action ends a moment after the image shows; CKEditor writes the body into
    # the form only after it (a save sent before would carry the text without the image).
    page.wait_for_function(
        "() => !document.querySelector('.field-body .ck-editor__editable')"
        ".ckeditorInstance.plugins.get('PendingActions').hasAny"
    )
    page.click("input[name=_continue]")
    error = page.wait_for_selector(".field-body .errorlist")
    assert "Every image needs alt text" in error.inner_text()
    screenshot(page, "editorial-03a-image-needs-alt")
    page.locator(".field-body .ck-editor__editable img").click()
    page.get_by_role("button", name="Change image text alternative").click()
    page.get_by_label("Text alternative").fill("A bar chart of model sizes")
    page.keyboard.press("Enter")


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def _write_highlight_and_tool(page: Any, live_server: Any, issue: Issue) -> None:
    _open_section(page, live_server, issue, SECTIONS[3][1])
    page.fill("#id_partner_name", "Agent Academy")
    _rich_text(page, "body", "A free weekend course on building agents, with three small projects.")
    page.fill("#id_link_url", "https://partner.example.com/course")
    page.fill("#id_link_label", "Join free")
    _save_section(page)

    _open_section(page, live_server, issue, SECTIONS[4][1])
    page.fill("#id_link_url", "https://tool.example.com/")
    _rich_text(page, "body", "Turns a meeting recording into a one-page summary with decisions and owners.")
    _items(page, [{"text": "Upload a recording."}, {"text": "Pick a length."}, {"text": "Share the notes."}])
    _save_section(page)


def _write_quick_links_and_swap_two(page: Any, live_server: Any, issue: Issue) -> Section:
    section = _open_section(page, live_server, issue, SECTIONS[5][1])
    _items(page, [{"text": text, "url": url} for text, url in QUICK_LINKS])
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    assert list(section.items.values_list("text", flat=True)) == [text for text, _ in QUICK_LINKS]
    # Drag the first quick link below the second.
    rows = page.locator("#items-group tr.has_original")
    rows.nth(0).locator("td.original p").drag_to(rows.nth(1))
    page.wait_for_function(
        "document.querySelector('#items-group tr.has_original input[id$=-text]').value.includes('number 2 ')"
    )
    page.wait_for_timeout(600)  # let the drop animation finish before the screenshot
    screenshot(page, "editorial-04-quick-links")
    _save_section(page)
    return section


def test_editor_builds_previews_and_test_sends_an_issue_a_contributor_cannot_approve_it(
    page: Any, browser: Any, live_server: Any, settings: Any, celery_eager: None
) -> None:
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"
    make_editor()
    make_contributor()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    admin_login(page, live_server, "edith")

    # 1. Create the issue with its six sections through the add form.
    page.goto(f"{live_server.url}/admin/issues/issue/add/")
    page.locator("#id_title").press_sequentially("Small models, big chips")
    assert page.input_value("#id_slug") == "small-models-big-chips"
    page.fill("#id_preheader", "Three stories, a partner course, a tool and eight quick links.")
    page.fill("#id_summary", "Today: open models for phones, cheaper inference and a draft audit rulebook.")
    _add_section_rows(page)
    screenshot(page, "editorial-01-new-issue")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was added successfully")
    issue = Issue.objects.get(slug="small-models-big-chips")
    assert [s.heading for s in issue.sections.all()] == [h for _, h in SECTIONS]

    # 2. Reorder on the composer: drag the third lead story above the second (autosaved).
    page.click("#composer-collapse-all")
    rows = page.locator("#composer-sections > .composer-section")
    rows.nth(2).locator(".composer-head .composer-handle").drag_to(rows.nth(1).locator(".composer-head"))
    page.wait_for_function("document.getElementById('composer-status').dataset.state === 'saved'")
    order = list(issue.sections.values_list("heading", flat=True))
    assert order == [SECTIONS[0][1], SECTIONS[2][1], SECTIONS[1][1], *[h for _, h in SECTIONS[3:]]]
    screenshot(page, "editorial-02-reordered")

    # 3. Write every section on its own page: CKEditor text, details, steps and links.
    _write_lead(page, live_server, issue, SECTIONS[0][1], try_upload=True)
    _write_lead(page, live_server, issue, SECTIONS[1][1])
    _write_lead(page, live_server, issue, SECTIONS[2][1])
    _write_highlight_and_tool(page, live_server, issue)
    links = _write_quick_links_and_swap_two(page, live_server, issue)
    first_lead = issue.sections.get(heading=SECTIONS[0][1])
    assert "runs on a phone" in first_lead.body and "onto devices" in first_lead.analysis
    assert 'alt="A bar chart of model sizes"' in first_lead.body
    assert list(first_lead.items.values_list("label", flat=True)) == ["The Size", "The Speed"]
    expected = [QUICK_LINKS[1], QUICK_LINKS[0], *QUICK_LINKS[2:]]
    assert list(links.items.values_list("text", "url")) == expected
    assert issue.sections.filter(kind=SectionKind.LEAD).count() == 3
    assert issue.sections.get(kind=SectionKind.TOOL).items.count() == 3

    # CKEditor and everything else the admin loaded came from this server: no CDN.
    assert [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))] == []
    assert any("/static/django_ckeditor_5/" in url for url in requested)

    # 4. The issue page shows the checks passing; preview the three outputs.
    page.goto(f"{live_server.url}/admin/issues/issue/{issue.pk}/change/")
    page.wait_for_selector("text=All checks pass.")
    issue.refresh_from_db()
    assert issue.word_count > 150
    assert f"{issue.reading_minutes} min read" in page.inner_text(".field-reading_time")
    page.click("a.issue-preview-link")
    page.wait_for_selector("#preview-text")
    text = page.inner_text("#preview-text")
    assert "Hi Sample Reader," in text and "SPONSORED by Agent Academy" in text
    assert text.index(expected[0][0]) < text.index(expected[1][0])
    phone = page.frame_locator("#preview-email-phone")
    assert phone.locator("text=View in browser").first.is_visible()
    assert phone.locator("text=SPONSORED").first.is_visible()
    assert phone.locator("ul.quick-links li").count() == 8
    page.frame_locator("#preview-web-desktop").locator("text=Try this yourself:").wait_for()
    screenshot(page, "editorial-05-preview")

    # 5. Send a test to two addresses; the issue page says when it went.
    page.goto(f"{live_server.url}/admin/issues/issue/{issue.pk}/change/")
    page.fill("#id_recipients", "edith@newsroom.test, desk@newsroom.test")
    page.click("#send-test-button")
    page.wait_for_selector("text=Test send queued")
    page.reload()
    page.wait_for_selector(".sent-at")
    assert PreviewSend.objects.get(issue=issue).sent_at is not None
    assert set(OutboxMessage.objects.values_list("to", flat=True)) == {"edith@newsroom.test", "desk@newsroom.test"}
    screenshot(page, "editorial-06-test-sent")

    # 6. Submit for review.
    page.click("button.workflow-review")
    page.wait_for_selector("text=is now in review")
    assert Issue.objects.get(pk=issue.pk).status == IssueStatus.REVIEW

    # 7. A contributor opens the same issue: no Approve button, read-only, and forged POSTs are refused.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        carl = context.new_page()
        admin_login(carl, live_server, "carl")
        carl.goto(f"{live_server.url}/admin/issues/issue/{issue.pk}/change/")
        carl.wait_for_selector("#issue-panel")
        assert carl.locator("button", has_text="Approve").count() == 0
        assert carl.locator("button.workflow-draft").is_visible()  # may withdraw it
        assert carl.locator("input[name=_save]").count() == 0
        screenshot(carl, "editorial-07-contributor-review")
        token = carl.evaluate("document.querySelector('input[name=csrfmiddlewaretoken]').value")
        for target in (IssueStatus.APPROVED, IssueStatus.SCHEDULED):
            response = carl.request.post(
                f"{live_server.url}/admin/issues/issue/{issue.pk}/transition/",
                form={"to_status": target, "csrfmiddlewaretoken": token},
                headers={"Referer": f"{live_server.url}/admin/"},
            )
            assert response.status == 403
    finally:
        context.close()
    assert Issue.objects.get(pk=issue.pk).status == IssueStatus.REVIEW
    assert not issue.transitions.filter(to_status=IssueStatus.APPROVED).exists()


# Where the text of each part of the email starts, in CSS pixels from the left.
_TEXT_EDGES_JS = """() => {
  const left = (el) => el.getBoundingClientRect().left;
  const padded = (el) => left(el) + parseFloat(getComputedStyle(el).paddingLeft);
  const cover = document.querySelector('td.cover img');
  return {
    scrollWidth: document.documentElement.scrollWidth,
    coverLoaded: cover ? cover.complete && cover.naturalWidth > 0 : null,
    coverWidth: cover ? cover.getBoundingClientRect().width : 0,
    edges: {
      masthead: padded(document.querySelector('td.masthead')),
      dateline: padded(document.querySelector('td.dateline')),
      title: left(document.querySelector('h1')),
      greeting: left(document.querySelector('td.greeting p')),
      firstStory: left(document.querySelector('td.section h2')),
      quickLinks: left(document.querySelector('ul.quick-links')),
      footer: left(document.querySelector('td.footer p')),
    },
  };
}"""


def _demo_issue() -> Issue:
    """The demo's sent issue (demo/content.py), with its cover image."""
    from django.core.files.base import ContentFile

    from demo.content import SENT_ISSUE
    from demo.loader import cover_image_png, item_fields
    from issues.services import issue_refresh_stats

    fields = ("title", "slug", "subject", "preheader", "summary", "canonical_url", "cover_alt")
    issue = Issue.objects.create(
        publish_date=timezone.now(), status=IssueStatus.SENT, **{k: SENT_ISSUE[k] for k in fields}
    )
    issue.cover_image.save("cover.png", ContentFile(cover_image_png(title=issue.title, seed=0)))
    for position, data in enumerate(SENT_ISSUE["sections"]):
        section = Section.objects.create(
            issue=issue, position=position, **{k: v for k, v in data.items() if k != "items"}
        )
        for n, item in enumerate(data["items"]):
            SectionItem.objects.create(section=section, position=n, **item_fields(item))
    return issue_refresh_stats(issue=issue)


def test_the_demo_email_lines_up_and_fits_at_600_and_375_pixels(page: Any, settings: Any) -> None:
    settings.SITE_URL = "http://newsroom.test"
    issue = _demo_issue()
    html = merge_sample(render_email(issue).html, sample_merge_values(issue))
    cover = Path(issue.cover_image.path).read_bytes()
    # The email's images point at SITE_URL; answer them as the site would.
    page.route("http://newsroom.test/media/**", lambda route: route.fulfill(body=cover, content_type="image/png"))
    for width in (600, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.set_content(html, wait_until="load")
        found = page.evaluate(_TEXT_EDGES_JS)
        assert found["scrollWidth"] <= width, f"the email scrolls sideways at {width} px"
        assert found["coverLoaded"] and found["coverWidth"] == width
        edges = found["edges"]
        assert max(edges.values()) - min(edges.values()) <= 1, (width, edges)
        screenshot(page, f"editorial-email-{width}px")
