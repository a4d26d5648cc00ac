from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from issues.models import SectionKind
from issues.rendering import MERGE_KEYS, count_words, mailgun_tag, reading_minutes, render_email, render_web_sections
from issues.selectors import publication
from testing.factories import SectionFactory, SectionItemFactory, make_full_issue

pytestmark = pytest.mark.django_db


def _positions(text: str, needles: list[str]) -> list[int]:
    return [text.index(needle) for needle in needles]


def test_web_sections_come_in_the_order_the_editor_set() -> None:
    issue = make_full_issue()
    lead = issue.sections.get(heading__startswith="Lead story 2")
    lead.position = 99
    lead.save()
    html = str(render_web_sections(issue))
    order = _positions(
        html,
        ["Lead story 1", "Lead story 3", "A partner&#x27;s new course", "Summariser", "Light Bytes", "Lead story 2"],
    )
    assert order == sorted(order)


def test_email_keeps_the_same_order_and_marks_the_highlight_sponsored() -> None:
    issue = make_full_issue()
    html = render_email(issue).html
    order = _positions(
        html, ["Lead story 1", "Lead story 2", "Lead story 3", "SPONSORED", "Summariser", "Quick item 7"]
    )
    assert order == sorted(order)
    assert "SPONSORED &middot; Partner Co" in html or "SPONSORED · Partner Co" in html
    assert "Sponsored · from our partner Partner Co" in str(render_web_sections(issue))


def test_lead_story_shows_details_with_bold_labels_and_tool_shows_steps() -> None:
    issue = make_full_issue()
    html = str(render_web_sections(issue))
    assert "<strong>The details:</strong>" in html
    assert "<strong>Label 0:</strong> Detail sentence 0." in html
    assert "<strong>Try this yourself:</strong>" in html
    assert re.search(r"<ol class=\"steps\"><li>Step 1\.</li><li>Step 2\.</li>", html)


def test_email_carries_every_merge_tag_and_the_publisher_footer() -> None:
    email = render_email(make_full_issue())
    for key in MERGE_KEYS:
        assert mailgun_tag(key) in email.html
    assert f'href="{mailgun_tag("web_url")}"' in email.html
    assert "View in browser" in email.html
    assert settings.PUBLISHER_NAME in email.html
    for key in ("unsubscribe_url", "preferences_url", "web_url", "name"):
        assert mailgun_tag(key) in email.text
    assert " ".join(settings.PUBLISHER_ADDRESS.split()) in " ".join(email.text.split())


def test_a_custom_merge_tag_syntax_is_used_everywhere() -> None:
    email = render_email(make_full_issue(), merge_tag=lambda key: "{{" + key + "}}")
    assert "{{unsubscribe_url}}" in email.html
    assert "%recipient." not in email.html
    assert "%recipient." not in email.text


def test_email_css_is_inlined_into_a_600px_table_layout() -> None:
    html = render_email(make_full_issue()).html
    assert 'role="presentation"' in html
    assert re.search(r'class="container"[^>]*style="[^"]*width: ?600px', html) or re.search(
        r'style="[^"]*width: ?600px[^"]*"[^>]*class="container"', html
    )
    # Rules from the <style> block now sit on the elements themselves.
    assert re.search(r'<h2 style="[^"]*font:', html)
    assert ".kicker{" not in html
    assert "@media only screen and (max-width:620px)" in html


def test_email_has_a_hidden_preheader_first_in_the_body() -> None:
    issue = make_full_issue(preheader="Three stories and a tool you can try today.")
    html = render_email(issue).html
    body = html[html.index("<body") :]
    first_div = body[: body.index("</div>")]
    assert "display:none" in first_div.replace(" ", "")
    assert "Three stories and a tool you can try today." in first_div


def test_the_preheader_is_hidden_without_a_text_colour_matching_the_background() -> None:
    # Text coloured like its background is what SpamAssassin's HTML_FONT_LOW_CONTRAST scores.
    html = render_email(make_full_issue(preheader="Three stories.")).html
    body = html[html.index("<body") :]
    preheader = re.match(r"<body[^>]*>\s*<div([^>]*)>", body)
    assert preheader and 'class="preheader"' in preheader.group(1)
    assert "color" not in preheader.group(1)


def test_plain_text_is_readable_and_shows_links_as_urls() -> None:
    issue = make_full_issue()
    lead = issue.sections.get(heading__startswith="Lead story 1")
    lead.body = '<p>Read <a href="https://example.org/paper">the paper</a> first.</p>'
    lead.save()
    text = render_email(issue).text
    assert "<p>" not in text and "<a " not in text
    assert "https://example.org/paper" in text
    assert "The details:\n  * Label 0: Detail sentence 0." in text
    assert "Try this yourself:\n  1. Step 1." in text
    assert "  * Quick item 3.\n    https://news.example.com/3" in text
    assert "SPONSORED by Partner Co" in text
    assert text.index("LEAD STORY 1") < text.index("LEAD STORY 2") < text.index("TOOL OF THE DAY")


def test_rich_text_is_escaped_nowhere_and_plain_fields_are_escaped() -> None:
    issue = make_full_issue()
    SectionFactory.create(
        issue=issue, kind=SectionKind.LEAD, position=50, heading="<b>Tom & Jerry</b>", body="<p>x</p>"
    )
    html = render_email(issue).html
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in html


def test_rendering_fetches_sections_and_items_in_two_queries() -> None:
    issue = make_full_issue()
    publication()  # the masthead is read once, then comes from the cache
    with CaptureQueriesContext(connection) as queries:
        render_email(issue)
    assert len(queries) == 2


def test_rendering_twice_gives_the_same_output() -> None:
    issue = make_full_issue()
    assert render_email(issue) == render_email(issue)


def test_a_reference_size_issue_stays_well_under_gmails_clip() -> None:
    issue = make_full_issue()
    paragraph = "<p>" + " ".join(["Analysis words about models and chips."] * 30) + "</p>"
    for section in issue.sections.filter(kind=SectionKind.LEAD):
        section.analysis = paragraph * 2
        section.save()
    for n in range(2):
        extra = SectionFactory.create(
            issue=issue, kind=SectionKind.LEAD, position=20 + n, body=paragraph, analysis=paragraph
        )
        SectionItemFactory.create(section=extra, label="Point", text="A detail sentence.")
    assert count_words(issue) > 1500
    assert len(render_email(issue).html.encode()) < 60 * 1024


def test_word_count_and_reading_time() -> None:
    issue = make_full_issue()
    words = count_words(issue)
    assert words > 50
    assert reading_minutes(0) == 1
    assert reading_minutes(1600) == 8
    assert reading_minutes(1601) == 9


def test_rendered_email_fields_are_json_serialisable() -> None:
    email = render_email(make_full_issue())
    assert json.loads(json.dumps(email.__dict__))["subject"] == email.subject


def test_uploaded_images_and_site_links_get_absolute_addresses_in_the_email(settings) -> None:
    settings.SITE_URL = "https://news.example.org"
    issue = make_full_issue()
    lead = issue.sections.filter(kind=SectionKind.LEAD).first()
    lead.body = '<p><img src="/media/uploads/chart.png" alt="A chart"> <a href="/about/">About</a></p>'
    lead.save()
    html = render_email(issue).html
    assert 'src="https://news.example.org/media/uploads/chart.png"' in html
    assert 'href="https://news.example.org/about/"' in html
    assert 'src="/media' not in html


def test_the_email_subject_is_the_title_unless_the_editor_wrote_one() -> None:
    issue = make_full_issue(title="Chips get cheaper", subject="")
    assert render_email(issue).subject == "Chips get cheaper"
    issue.subject = "Cheaper chips, and a tool to try"
    assert render_email(issue).subject == "Cheaper chips, and a tool to try"


LONG_URL = "https://research.example.org/papers/2025/small-models-big-week?utm_source=newsletter&utm_medium=email"
PROSE = " ".join(["Chip makers and model labs traded announcements all week long."] * 4)


def _long_text_issue(**kwargs) -> str:
    issue = make_full_issue(**kwargs)
    lead = issue.sections.get(heading__startswith="Lead story 1")
    lead.body = f'<p>{PROSE} Read <a href="{LONG_URL}">the paper</a> first.</p><ul><li>{PROSE}</li></ul>'
    lead.analysis = f"<p>{PROSE}</p><p>{PROSE}</p>"
    lead.link_url = LONG_URL
    lead.save()
    item = lead.items.first()
    item.text = PROSE
    item.save()
    return render_email(issue).text


def test_plain_text_lines_stay_within_76_columns_unless_one_unbreakable_word() -> None:
    text = _long_text_issue(summary=PROSE)
    lines = text.splitlines()
    assert any(len(line) > 60 for line in lines)  # prose fills the lines
    for line in lines:
        if len(line) > 76:
            marker = re.match(r"^\s*(?:[*\-]|\d+\.)?\s*", line)
            assert len(line[marker.end() :].split()) == 1, line


def test_wrapping_keeps_every_word_in_order_and_links_whole() -> None:
    text = _long_text_issue()
    assert text.count(LONG_URL) == 2  # the link in the body and the source link, each unbroken
    assert f"Read the source:\n{LONG_URL}\n" in text  # too long to share a line: it gets its own
    flowing = " ".join(text.split())
    assert f"{PROSE} Read [the paper]({LONG_URL}) first." in flowing


def test_a_long_list_item_wraps_under_its_text() -> None:
    text = _long_text_issue()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  * Label 0: Chip makers"))
    assert len(lines[start]) <= 76
    assert lines[start + 1].startswith("    ") and not lines[start + 1].startswith("     ")
    assert lines[start + 1].strip()[0].isalpha()


def test_a_merge_tag_with_spaces_is_never_split_by_wrapping() -> None:
    def tag(key: str) -> str:  # a provider tag with spaces and a fallback, long enough to overflow its line
        return "{{ params." + key + ' | default: "https://news.example.com/account" }}'

    text = render_email(make_full_issue(), merge_tag=tag).text
    for key in MERGE_KEYS:
        assert tag(key) in text


def test_a_long_postal_address_still_passes_the_address_check(settings) -> None:
    from issues.checks import presend_checks

    settings.PUBLISHER_ADDRESS = (
        "Newsroom Media Ltd, Floor 4, 120 Long Example Street, Kingsbridge, London, EC1A 1AA, UK"
    )
    issue = make_full_issue()
    assert "address_missing" not in {check.code for check in presend_checks(issue)}
    assert max(len(line) for line in render_email(issue).text.splitlines() if "Kingsbridge" in line) <= 76
