from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from issues.checks import has_blocking_errors, presend_checks
from issues.models import Section, SectionItem, SectionKind
from testing.factories import SectionFactory, make_full_issue

pytestmark = pytest.mark.django_db


def _codes(issue, level: str | None = None) -> set[str]:
    return {c.code for c in presend_checks(issue) if level is None or c.level == level}


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "PNG")
    return SimpleUploadedFile("cover.png", buffer.getvalue(), content_type="image/png")


def test_a_complete_reference_issue_passes_every_check() -> None:
    issue = make_full_issue()
    assert presend_checks(issue) == []
    assert not has_blocking_errors(issue)


def test_missing_subject_is_an_error() -> None:
    issue = make_full_issue(title="", subject="")
    assert "subject_missing" in _codes(issue, "error")
    assert has_blocking_errors(issue)


def test_subject_over_78_characters_is_a_warning_and_over_150_an_error() -> None:
    warn = make_full_issue(subject="x" * 79)
    assert "subject_long" in _codes(warn, "warning")
    assert not has_blocking_errors(warn)
    error = make_full_issue(subject="y" * 151)
    assert "subject_long" in _codes(error, "error")
    ok = make_full_issue(subject="z" * 78)
    assert "subject_long" not in _codes(ok)


def test_missing_preheader_is_an_error() -> None:
    assert "preheader_missing" in _codes(make_full_issue(preheader=""), "error")


def test_cover_image_without_alt_text_is_an_error() -> None:
    issue = make_full_issue(cover_alt="")
    issue.cover_image = _png()
    issue.save()
    assert "cover_alt" in _codes(issue, "error")
    issue.cover_alt = "A red square"
    issue.save()
    assert "cover_alt" not in _codes(issue)


def test_image_in_rich_text_without_alt_is_an_error() -> None:
    issue = make_full_issue()
    section = issue.sections.filter(kind=SectionKind.LEAD).first()
    section.body = '<p>x</p><img src="https://img.example.com/a.png">'
    section.save()
    assert "image_alt" in _codes(issue, "error")
    section.body = '<p>x</p><img src="https://img.example.com/a.png" alt="A chart of costs">'
    section.save()
    assert "image_alt" not in _codes(issue)


@pytest.mark.parametrize(
    "bad", ["/relative/path", "ftp://files.example.com/a", "example.com/no-scheme", "mailto:x@example.com"]
)
def test_links_that_are_not_absolute_http_are_errors(bad: str) -> None:
    issue = make_full_issue()
    section = issue.sections.filter(kind=SectionKind.LEAD).first()
    section.analysis = f'<p><a href="{bad}">link</a></p>'
    section.save()
    assert "link_absolute" in _codes(issue, "error")


def test_a_quick_link_without_a_url_is_an_error() -> None:
    issue = make_full_issue()
    SectionItem.objects.filter(section__kind=SectionKind.QUICK_LINKS).update(url="")
    assert "section_incomplete" in _codes(issue, "error")


def test_a_highlight_without_a_partner_cannot_be_sent() -> None:
    issue = make_full_issue()
    Section.objects.filter(issue=issue, kind=SectionKind.HIGHLIGHT).update(partner_name="")
    messages = [c.message for c in presend_checks(issue) if c.code == "section_incomplete"]
    assert any("partner name" in m for m in messages)


def test_an_email_over_102_kb_is_an_error_and_near_it_a_warning() -> None:
    issue = make_full_issue()
    paragraph = "<p>" + "Lots of words about the news. " * 100 + "</p>"
    SectionFactory.create(issue=issue, kind=SectionKind.LEAD, position=90, heading="Long", body=paragraph * 26)
    assert "html_size" in _codes(issue, "warning")
    SectionFactory.create(issue=issue, kind=SectionKind.LEAD, position=91, heading="Longer", body=paragraph * 10)
    assert "html_size" in _codes(issue, "error")


def test_missing_postal_address_is_an_error(settings) -> None:
    settings.PUBLISHER_ADDRESS = ""
    assert "address_missing" in _codes(make_full_issue(), "error")


def test_missing_unsubscribe_link_is_an_error(monkeypatch) -> None:
    from issues import checks
    from issues.rendering import RenderedEmail

    issue = make_full_issue()
    real = checks.render_email

    def without_unsubscribe(issue, **kwargs):
        email = real(issue, **kwargs)
        return RenderedEmail(
            email.subject, email.preheader, email.html.replace("%recipient.unsubscribe_url%", ""), email.text
        )

    monkeypatch.setattr(checks, "render_email", without_unsubscribe)
    assert "unsubscribe_missing" in _codes(issue, "error")


def test_errors_come_before_warnings() -> None:
    issue = make_full_issue(subject="w" * 90, preheader="")
    levels = [c.level for c in presend_checks(issue)]
    assert levels == sorted(levels, key=lambda level: level != "error")
    assert levels[0] == "error" and "warning" in levels


def _lead_body_stored_as_is(issue, body: str) -> None:
    # A raw update: content saved before the image rule, never sanitised.
    lead = issue.sections.filter(kind=SectionKind.LEAD).first()
    Section.objects.filter(pk=lead.pk).update(body=body)


def test_an_image_from_another_host_is_an_error_until_an_operator_allows_the_host(settings) -> None:
    issue = make_full_issue()
    _lead_body_stored_as_is(issue, '<p>x</p><img src="https://tracker.example/open.gif" alt="A chart">')
    [check] = [c for c in presend_checks(issue) if c.code == "image_host"]
    assert check.level == "error"
    assert "tracker.example/open.gif" in check.message and "RICH_TEXT_IMAGE_HOSTS" in check.message
    assert has_blocking_errors(issue)
    settings.RICH_TEXT_IMAGE_HOSTS = ["tracker.example"]
    assert "image_host" not in _codes(issue)


@pytest.mark.parametrize("src", ["//tracker.example/open.gif", "/static/logo.png"])
def test_a_protocol_relative_or_non_media_image_is_an_error(src: str) -> None:
    issue = make_full_issue()
    _lead_body_stored_as_is(issue, f'<p>x</p><img src="{src}" alt="A chart">')
    assert "image_host" in _codes(issue, "error")


def test_an_image_from_our_media_is_not_flagged(settings) -> None:
    issue = make_full_issue()
    body = f'<img src="/media/uploads/a.png" alt="A chart"><img src="{settings.SITE_URL}/media/b.png" alt="B">'
    _lead_body_stored_as_is(issue, body)
    assert not {"image_host", "image_src"} & _codes(issue)


def test_a_protocol_relative_link_is_an_error() -> None:
    issue = make_full_issue()
    _lead_body_stored_as_is(issue, '<p><a href="//evil.example/">Read more</a></p>')
    messages = [c.message for c in presend_checks(issue) if c.code == "link_absolute"]
    assert any("//evil.example/" in message for message in messages)


def test_a_tracking_pixel_saved_now_is_stripped_and_the_leftover_image_is_flagged() -> None:
    from issues.services import section_save

    issue = make_full_issue()
    lead = issue.sections.filter(kind=SectionKind.LEAD).first()
    assert lead is not None
    lead.body = '<p>x</p><img src="https://tracker.example/open.gif" alt="A chart">'
    section_save(section=lead)
    lead.refresh_from_db()
    assert "tracker.example" not in lead.body
    [check] = [c for c in presend_checks(issue) if c.code == "image_src"]
    assert check.level == "error" and "upload it in the editor or remove it" in check.message
