"""An editor builds a reference-shape issue in Chromium, reorders sections by
drag and drop, previews it and sends a test; a contributor cannot approve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from issues.emails import merge_sample, sample_merge_values
from issues.models import Issue, IssueStatus, PreviewSend, Section, SectionItem, SectionKind
from issues.rendering import render_email
from issues.services import section_save
from newsroom.models import OutboxMessage
from newsroom.testing.factories import make_contributor, make_editor
from newsroom.testing.fixtures import admin_login, screenshot

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


def _fill_remaining_content(issue: Issue) -> None:
    """What the editor would type on each section page, done directly for speed
    (the first lead story is written in the browser)."""
    for section in issue.sections.exclude(kind=SectionKind.LEAD, position=issue.sections.first().position):
        if section.kind == SectionKind.LEAD:
            if not section.body:
                section.body = "<p>" + "The opening paragraph explains what happened and who did it. " * 6 + "</p>"
            section.analysis = "<p>" + "Why it matters: costs fall and more teams can build with it. " * 8 + "</p>"
            section.link_url = "https://example.com/source"
            if not section.items.exists():
                for n, label in enumerate(["The Burn Rate", "The Timeline", "The Catch"]):
                    SectionItem.objects.create(section=section, position=n, label=label, text="A short sentence.")
        elif section.kind == SectionKind.HIGHLIGHT:
            section.partner_name = "Agent Academy"
            section.body = "<p>A free weekend course on building agents, with projects.</p>"
            section.link_url = "https://partner.example.com/course"
            section.link_label = "Join free"
        elif section.kind == SectionKind.TOOL:
            section.body = "<p>Turns a meeting recording into a one-page summary.</p>"
            section.link_url = "https://tool.example.com/"
            for n, step in enumerate(["Upload a recording.", "Pick a summary length.", "Share the notes."]):
                SectionItem.objects.create(section=section, position=n, text=step)
        elif section.kind == SectionKind.QUICK_LINKS:
            for n in range(8):
                SectionItem.objects.create(
                    section=section,
                    position=n,
                    text=f"Quick news item number {n + 1}.",
                    url=f"https://news.example.com/{n}",
                )
        section_save(section=section)


def test_editor_builds_previews_and_test_sends_an_issue(
    page: Any, live_server: Any, settings: Any, celery_eager: None
) -> None:
    settings.EMAIL_BACKEND = "newsroom.outbox.OutboxBackend"
    make_editor()
    make_contributor()
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

    # 2. Reorder: drag the second lead story below the third, then save.
    rows = page.locator("#sections-group tr.has_original")
    rows.nth(1).locator("td.original p").drag_to(rows.nth(2))
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    order = list(issue.sections.values_list("heading", flat=True))
    assert order[1] == SECTIONS[2][1] and order[2] == SECTIONS[1][1]
    screenshot(page, "editorial-02-reordered")

    # 3. Write the first lead story on its section page: CKEditor body and three details.
    first = issue.sections.first()
    page.click(f"#sections-group a[href$='/admin/issues/section/{first.pk}/change/']")
    page.wait_for_selector(".ck-editor__editable")
    editable = page.locator(".ck-editor__editable").first
    editable.click()
    editable.type("Engineers released a compact open model that runs on a phone without a network connection.")
    for n, (label, text) in enumerate(
        [
            ("The Size", "It fits in under two gigabytes."),
            ("The Speed", "It answers in under a second."),
            ("The Licence", "Anyone may use it."),
        ]
    ):
        page.click("#items-group .add-row a")
        page.fill(f"#id_items-{n}-label", label)
        page.fill(f"#id_items-{n}-text", text)
    page.fill("#id_link_url", "https://example.com/open-model")
    # A file that is not an image is refused, and the editor is told why.
    alerts: list[str] = []

    def keep_alert(dialog) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", keep_alert)
    page.locator(".ck-toolbar input[type=file]").first.set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"plain text, not a picture"}]
    )
    for _ in range(50):
        if alerts:
            break
        page.wait_for_timeout(100)
    assert alerts and "The file is not an image" in alerts[0]
    screenshot(page, "editorial-03-lead-story")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    first.refresh_from_db()
    assert "runs on a phone" in first.body
    assert list(first.items.values_list("label", flat=True)) == ["The Size", "The Speed", "The Licence"]

    _fill_remaining_content(issue)

    # 4. The issue page shows the checks passing; preview the three outputs.
    page.goto(f"{live_server.url}/admin/issues/issue/{issue.pk}/change/")
    page.wait_for_selector("text=All checks pass.")
    assert "min read" in page.inner_text(".field-reading_time")
    page.click("a.issue-preview-link")
    page.wait_for_selector("#preview-text")
    assert "Hi Sample Reader," in page.inner_text("#preview-text")
    phone = page.frame_locator("#preview-email-phone")
    assert phone.locator("text=View in browser").first.is_visible()
    assert phone.locator("text=SPONSORED").first.is_visible()
    page.frame_locator("#preview-web-desktop").locator("text=Try this yourself:").wait_for()
    screenshot(page, "editorial-04-preview")

    # 5. Send a test to two addresses.
    page.goto(f"{live_server.url}/admin/issues/issue/{issue.pk}/change/")
    page.fill("#id_recipients", "edith@newsroom.test, desk@newsroom.test")
    page.click("#send-test-button")
    page.wait_for_selector("text=Test send queued")
    page.reload()
    page.wait_for_selector(".sent-at")
    assert PreviewSend.objects.get(issue=issue).sent_at is not None
    assert set(OutboxMessage.objects.values_list("to", flat=True)) == {"edith@newsroom.test", "desk@newsroom.test"}
    screenshot(page, "editorial-05-test-sent")

    # 6. Submit for review.
    page.click("button.workflow-review")
    page.wait_for_selector("text=is now in review")
    assert Issue.objects.get(pk=issue.pk).status == IssueStatus.REVIEW


def test_contributor_sees_no_approve_button_on_an_issue_in_review(page: Any, live_server: Any) -> None:
    make_contributor()
    issue = Issue.objects.create(
        title="Waiting for an editor", slug="waiting", status=IssueStatus.REVIEW, preheader="p"
    )
    Section.objects.create(issue=issue, kind=SectionKind.LEAD, heading="A story", body="<p>Text.</p>")
    admin_login(page, live_server, "carl")
    page.goto(f"{live_server.url}/admin/issues/issue/{issue.pk}/change/")
    page.wait_for_selector("#issue-panel")
    assert page.locator("button", has_text="Approve").count() == 0
    assert page.locator("button.workflow-draft").is_visible()  # may withdraw it
    assert page.locator("input[name=_save]").count() == 0  # read-only for contributors
    screenshot(page, "editorial-06-contributor-review")
    # A forged request from this signed-in browser is refused as well.
    token = page.evaluate("document.querySelector('input[name=csrfmiddlewaretoken]').value")
    response = page.request.post(
        f"{live_server.url}/admin/issues/issue/{issue.pk}/transition/",
        form={"to_status": "approved", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{live_server.url}/admin/"},
    )
    assert response.status == 403
    assert Issue.objects.get(pk=issue.pk).status == IssueStatus.REVIEW


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
      brand: padded(document.querySelector('td.brand')),
      meta: padded(document.querySelector('td.meta')),
      title: left(document.querySelector('h1')),
      greeting: left(document.querySelector('td.greeting p')),
      firstStory: left(document.querySelector('td.section h2')),
      quickLinks: left(document.querySelector('ul.quick-links')),
      footer: left(document.querySelector('td.footer p')),
    },
  };
}"""


def _demo_issue() -> Issue:
    """The demo's sent issue (newsroom/demo_content.py), with its cover image."""
    from django.core.files.base import ContentFile

    from issues.services import issue_refresh_stats
    from newsroom.demo import cover_image_png
    from newsroom.demo_content import SENT_ISSUE

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
            SectionItem.objects.create(section=section, position=n, **item)
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
