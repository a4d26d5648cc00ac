"""What a reader sees at the top and bottom of the issue email: the masthead the
publisher set, the date and issue number, dark mode, the share and forward
block, the reply prompt, and quick links as a reader scans them."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from issues.models import IssueStatus, Publication, SectionItem, SectionKind
from issues.quicklinks import quick_line
from issues.rendering import render_email
from issues.selectors import publication
from issues.services import issue_restore, issue_transition, publication_save
from testing.factories import IssueFactory, SectionFactory, SectionItemFactory, make_full_issue

pytestmark = pytest.mark.django_db


def png(width: int, height: int) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (29, 78, 216, 255)).save(out, format="PNG")
    return SimpleUploadedFile("whatever-name.png", out.getvalue(), content_type="image/png")


def masthead(**fields: object) -> Publication:
    from django.test import TestCase

    pub = Publication(pk=1, **fields)
    pub.full_clean()
    # The cache is cleared once the save commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return publication_save(publication=pub, acting_user=None)


def test_the_masthead_shows_the_logo_at_its_fixed_size_the_name_and_the_tagline(settings) -> None:
    settings.SITE_URL = "https://news.example.com"
    masthead(
        name="Morning Circuit",
        tagline="Chips, code and the people behind them",
        logo=png(320, 80),
        logo_alt="Morning Circuit",
        logo_display_width=160,
    )
    html = render_email(make_full_issue()).html
    logo = re.search(r'<img class="logo"[^>]*>', html)
    assert logo is not None
    assert 'width="160"' in logo.group(0) and 'height="40"' in logo.group(0)
    assert 'alt="Morning Circuit"' in logo.group(0)
    assert 'src="https://news.example.com/media/publication/' in logo.group(0)
    assert html.index('class="logo"') < html.index(">Morning Circuit</p>") < html.index("Chips, code and the people")


def test_without_a_saved_masthead_the_name_comes_from_the_settings_and_no_logo_is_shown(settings) -> None:
    settings.PUBLISHER_NAME = "The Evening Wire"
    html = render_email(make_full_issue()).html
    assert ">The Evening Wire</p>" in html
    assert 'class="logo"' not in html
    assert not Publication.objects.exists()  # reading the masthead writes nothing


def test_the_dateline_gives_the_date_the_number_and_the_reading_time(settings) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings.TIME_ZONE = "Europe/London"
    issue = make_full_issue(number=42, publish_date=datetime(2026, 3, 31, 6, 0, tzinfo=ZoneInfo("Europe/London")))
    email = render_email(issue)
    line = f"31 March 2026 \u00b7 No. 42 \u00b7 {issue.reading_minutes} min read"
    assert line in email.html
    assert line in email.text.splitlines()[:3]  # under the name (and the tagline, if any)


def test_the_view_in_browser_line_sits_above_the_masthead_not_in_it() -> None:
    html = render_email(make_full_issue()).html
    topbar = re.search(r'<td class="topbar[^"]*"[^>]*>(.*?)</td>', html, re.S)
    assert topbar is not None and "View this issue in your browser" in topbar.group(1)
    assert html.index("View this issue in your browser") < html.index('class="masthead')


def test_the_email_declares_light_and_dark_and_carries_dark_styles() -> None:
    html = render_email(make_full_issue()).html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    dark = html[html.index("@media (prefers-color-scheme:dark)") :]
    assert ".container{background:#1c1c1e!important}" in dark
    assert ".logo-plate{background:#ffffff!important}" in dark  # the logo keeps a light plate
    assert "[data-ogsc] h2" in dark  # Outlook.com's dark mode


def test_share_links_are_plain_addresses_and_forwarding_leads_to_the_subscribe_prompt(settings) -> None:
    settings.SITE_URL = "https://news.example.com"
    issue = make_full_issue(title="Chips & dips")
    email = render_email(issue)
    page = f"https://news.example.com/newsletter/{issue.slug}/"
    assert f'href="{page}?ref=forward"' in email.html
    assert "https://x.com/intent/post?url=https%3A%2F%2Fnews.example.com" in email.html
    assert "https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Fnews.example.com" in email.html
    assert "https://bsky.app/intent/compose?text=Chips+%26+dips+https%3A%2F%2Fnews.example.com" in email.html
    assert "mailto:?subject=Chips%20%26%20dips&amp;body=" in email.html
    assert "<script" not in email.html
    assert f"Subscribe and get the next one yourself: {page}?ref=forward" in " ".join(email.text.split())


def test_the_reply_prompt_shows_only_when_replies_are_welcome() -> None:
    issue = make_full_issue()
    assert "Reply to this email" not in render_email(issue).html
    masthead(replies_welcome=True, reply_prompt="Reply to this email: we read them all.")
    email = render_email(issue)
    assert '<td class="reply"' in email.html and "Reply to this email: we read them all." in email.html
    assert "Reply to this email: we read them all." in email.text


def test_the_buttons_take_the_brand_colour_with_text_that_reads_on_it() -> None:
    masthead(brand_colour="#fde047")  # a light yellow: dark text
    html = render_email(make_full_issue()).html
    assert 'style="background: #fde047' in html or "background:#fde047" in html.replace(" ", "")
    assert re.search(r'class="button on-brand-dark"[^>]*color: ?#111111', html)


def test_the_first_send_gives_the_next_number_and_a_typed_number_is_kept(editor) -> None:
    IssueFactory.create(number=7, status=IssueStatus.SENT)
    unnumbered = IssueFactory.create(status=IssueStatus.SCHEDULED)
    issue_transition(issue=unnumbered, to_status=IssueStatus.SENDING)
    typed = IssueFactory.create(status=IssueStatus.SCHEDULED, number=100)
    issue_transition(issue=typed, to_status=IssueStatus.SENDING)
    unnumbered.refresh_from_db()
    typed.refresh_from_db()
    assert (unnumbered.number, typed.number) == (8, 100)
    # Sent again later (back to approved, scheduled, sending): the number stays.
    issue_transition(issue=unnumbered, to_status=IssueStatus.SENT)
    assert unnumbered.number == 8


# --- quick links --------------------------------------------------------------


def _item(text: str, url: str = "https://example.org/story") -> SectionItem:
    section = SectionFactory(issue=IssueFactory.create(), kind=SectionKind.QUICK_LINKS)
    return SectionItemFactory.create(section=section, text=text, url=url)


def test_a_line_that_links_its_own_words_is_shown_as_written_and_not_wrapped_in_its_url() -> None:
    line = quick_line(_item('Basalt AI <a href="https://example.com/b">cut its prices</a> by half.'))
    assert line.html.count("<a ") == 1 and "example.org/story" not in line.html
    assert line.text == "Basalt AI [cut its prices](https://example.com/b) by half."
    assert line.url_below == ""


def test_a_plain_line_links_its_bold_words_or_its_headline_not_the_whole_line() -> None:
    bold = quick_line(_item("Porto's museum <strong>matched 3,000 photographs</strong> to its archive."))
    assert bold.html == (
        'Porto\'s museum <strong><a class="quick-link" href="https://example.org/story">'
        "matched 3,000 photographs</a></strong> to its archive."
    )
    assert bold.text == "Porto's museum [matched 3,000 photographs](https://example.org/story) to its archive."
    head = quick_line(_item("Open Meadow: a speech dataset in eleven accents."))
    assert head.html.startswith('<a class="quick-link" href="https://example.org/story">Open Meadow</a>: a speech')
    assert head.text == "[Open Meadow](https://example.org/story): a speech dataset in eleven accents."


def test_a_plain_sentence_is_not_cut_and_its_source_follows_as_the_link() -> None:
    line = quick_line(_item("Two libraries now offer free evening workshops on spotting generated images."))
    assert line.html.startswith("Two libraries now offer free evening workshops on spotting generated images. <a ")
    assert ">example.org&nbsp;&rarr;</a>" in line.html
    assert line.text == "Two libraries now offer free evening workshops on spotting generated images."
    assert line.url_below == "https://example.org/story"


def test_the_email_shows_quick_links_that_way_in_html_and_plain_text() -> None:
    issue = make_full_issue()
    section = issue.sections.get(kind=SectionKind.QUICK_LINKS)
    section.items.update(text="Quick item: a short line.")
    email = render_email(issue)
    assert '<a class="quick-link" href="https://news.example.com/0"' in email.html
    assert "Quick item</a>: a short line." in email.html
    assert "  * [Quick item](https://news.example.com/0): a short line." in email.text


def test_publication_selector_is_cached_and_cleared_on_save(django_assert_num_queries) -> None:
    assert publication().shown_name  # fills the cache
    with django_assert_num_queries(0):
        publication()
    masthead(name="Renamed Weekly")
    assert publication().shown_name == "Renamed Weekly"


def test_a_forwarded_reader_reaching_the_web_page_is_asked_to_subscribe(client) -> None:
    from issues.tests.public_helpers import published

    issue = published(slug="forwarded-one", title="Forwarded one")
    plain = client.get(f"/newsletter/{issue.slug}/").content.decode()
    forwarded = client.get(f"/newsletter/{issue.slug}/?ref=forward").content.decode()
    assert "A friend forwarded you this issue" not in plain
    assert "A friend forwarded you this issue" in forwarded
    assert 'href="#subscribe"' in forwarded and 'id="subscribe"' in forwarded
    # The page a link in every email leads to is not served from the cache without the note.
    assert "A friend forwarded you this issue" not in client.get(f"/newsletter/{issue.slug}/").content.decode()


def test_restoring_an_older_version_keeps_the_number_the_issue_was_given(editor) -> None:
    import reversion
    from reversion.models import Version

    issue = IssueFactory.create(title="Old title", number=3)
    with reversion.create_revision():
        issue.save()
    old = Version.objects.get_for_object(issue).get()
    IssueFactory.create(number=4)
    issue.title, issue.number = "New title", 9
    issue.save()
    issue_restore(version=old, acting_user=editor)
    issue.refresh_from_db()
    assert (issue.title, issue.number) == ("Old title", 9)


def test_the_confirmation_email_opens_with_the_masthead_and_takes_its_colour() -> None:
    from core.mail import build_templated

    masthead(name="Morning Circuit", tagline="Chips, code and people", brand_colour="#fde047")
    context = {"name": "Zoë", "confirm_url": "https://news.example.com/c/1/", "valid_days": 3}
    message = build_templated(kind="confirm", to=["zoe@example.org"], context=context)
    html = str(message.alternatives[0][0])
    assert html.index("Morning Circuit</p>") < html.index("Chips, code and people") < html.index("Hello Zoë")
    assert "border-bottom:3px solid #fde047" in html
    assert "background:#fde047;color:#111111;" in html  # dark text on the light brand colour
    assert "Morning Circuit" in message.subject
