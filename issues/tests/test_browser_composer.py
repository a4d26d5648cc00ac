"""Issue 12 in Chromium: an editor builds the reference issue on one page
(three leads with details, the highlight, the tool with steps, eight quick
links, one linking only part of its line), drags two sections into a new
order, reloads and finds it all saved without pressing Save: three page loads."""

from __future__ import annotations

from typing import Any

import pytest

from issues.models import Issue, SectionKind
from testing.factories import make_editor
from testing.fixtures import admin_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECTIONS = "#composer-sections > .composer-section"


def _add_section(page: Any, kind: str, heading: str) -> Any:
    sections = page.locator(SECTIONS)
    bar = sections.last.locator(".composer-insert") if sections.count() else page.locator(".composer-insert").first
    bar.locator("select").select_option(kind)
    bar.locator("button").click()
    section = page.locator(SECTIONS).last
    section.locator('[data-field="heading"] input').fill(heading)
    return section


def _rich(locator: Any, text: str) -> None:
    locator.locator(".ck-editor__editable").click()
    locator.page.keyboard.type(text)


def _item(section: Any, text: str, *, label: str = "", url: str = "") -> Any:
    section.locator(".composer-add-item").click()
    row = section.locator(".composer-item").last
    if label:
        row.locator('[data-item="label"] input').fill(label)
    _rich(row.locator('[data-item="text"]'), text)
    if url:
        row.locator('[data-item="url"] input').fill(url)
    return row


def _build(page: Any) -> None:
    for n in range(1, 4):
        lead = _add_section(page, SectionKind.LEAD, f"Lead story {n}")
        _rich(lead.locator('[data-field="body"]'), f"Opening paragraph of story {n}.")
        _rich(lead.locator('[data-field="analysis"]'), f"Why story {n} matters.")
        _item(lead, f"First detail of story {n}.", label="The Size")
        _item(lead, f"Second detail of story {n}.", label="The Speed")
    highlight = _add_section(page, SectionKind.HIGHLIGHT, "Learn agents in a weekend")
    highlight.locator('[data-field="partner_name"] input').fill("Agent Academy")
    highlight.locator('[data-field="link_url"] input').fill("https://academy.example.com/")
    _rich(highlight.locator('[data-field="body"]'), "A partner course.")
    tool = _add_section(page, SectionKind.TOOL, "Briefly")
    tool.locator('[data-field="link_url"] input').fill("https://briefly.example.com/")
    _rich(tool.locator('[data-field="body"]'), "Summarises meetings.")
    for step in range(1, 4):
        _item(tool, f"Step {step}.")
    links = _add_section(page, SectionKind.QUICK_LINKS, "Light Bytes")
    for n in range(1, 9):
        _item(links, f"Quick news item {n} from the maker", url=f"https://news.example.com/{n}")
    # A link on the last two words of the first quick link only.
    first = links.locator(".composer-item").first.locator(".ck-editor__editable")
    first.click()
    page.keyboard.press("End")
    page.keyboard.press("Control+Shift+ArrowLeft")
    page.keyboard.press("Control+Shift+ArrowLeft")
    page.keyboard.press("Control+k")
    page.keyboard.type("https://maker.example.com/post")
    page.keyboard.press("Enter")


def test_editor_builds_the_reference_issue_on_one_page_and_it_is_saved_without_pressing_save(
    page: Any, live_server: Any
) -> None:
    make_editor()
    admin_login(page, live_server, "edith")
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))

    page.goto(f"{live_server.url}/admin/issues/issue/add/")
    page.locator("#id_title").press_sequentially("Small models, big chips")
    page.click("input[name=_continue]")
    page.wait_for_selector(".composer-insert")
    _build(page)
    # The outline (every section collapsed), then drag the second lead story above the first.
    page.click("#composer-collapse-all")
    page.locator(SECTIONS).nth(1).locator(".composer-head .composer-handle").drag_to(
        page.locator(SECTIONS).nth(0).locator(".composer-head")
    )
    page.wait_for_function("document.getElementById('composer-status').dataset.state === 'saved'", timeout=20000)
    assert page.inner_text("#composer-status").startswith("Saved at ")
    screenshot(page, "composer-01-built")

    page.reload()
    page.wait_for_selector(f"{SECTIONS} .ck-editor__editable")
    issue = Issue.objects.get(slug="small-models-big-chips")
    assert list(issue.sections.values_list("heading", flat=True)) == [
        "Lead story 2",
        "Lead story 1",
        "Lead story 3",
        "Learn agents in a weekend",
        "Briefly",
        "Light Bytes",
    ]
    assert page.locator(f"{SECTIONS} [data-field=heading] input").first.input_value() == "Lead story 2"
    lead = issue.sections.get(heading="Lead story 1")
    assert "Why story 1 matters." in lead.analysis
    assert list(lead.items.values_list("label", flat=True)) == ["The Size", "The Speed"]
    links = issue.sections.get(kind=SectionKind.QUICK_LINKS)
    assert links.items.count() == 8
    assert links.items.first().text == (
        'Quick news item 1 from <a href="https://maker.example.com/post" rel="noopener noreferrer">the maker</a>'
    )
    assert issue.sections.get(kind=SectionKind.TOOL).items.count() == 3
    assert len(loads) <= 3, loads
