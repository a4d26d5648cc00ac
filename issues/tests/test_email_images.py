"""Every image of the issue email has a width and a height."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from issues.models import Issue, SectionKind
from issues.rendering import render_email
from testing.factories import make_full_issue

pytestmark = pytest.mark.django_db


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _with_cover(width: int, height: int) -> Issue:
    issue = make_full_issue(cover_alt="A blue cover")
    issue.cover_image.save("cover.png", ContentFile(_png(width, height)), save=True)
    return issue


def _images(html: str) -> list[str]:
    return re.findall(r"<img\b[^>]*>", html)


def _size(tag: str) -> tuple[str, str]:
    width, height = re.search(r'\swidth="(\d+)"', tag), re.search(r'\sheight="(\d+)"', tag)
    assert width and height, f"{tag} lacks a width or a height"
    return width.group(1), height.group(1)


def _lead_body(issue: Issue, body: str) -> None:
    lead = issue.sections.filter(kind=SectionKind.LEAD).first()
    assert lead is not None
    lead.body = body
    lead.save()


def test_the_cover_spans_the_container_at_its_own_aspect_ratio() -> None:
    (cover,) = _images(render_email(_with_cover(1200, 630)).html)
    assert "A blue cover" in cover and _size(cover) == ("600", "315")


def test_rich_text_images_from_our_media_get_their_size_scaled_into_the_column() -> None:
    wide = default_storage.save("uploads/wide.png", ContentFile(_png(1072, 400)))
    small = default_storage.save("uploads/small.png", ContentFile(_png(120, 80)))
    issue = make_full_issue()
    _lead_body(issue, f'<p>Look:</p><img src="/media/{wide}" alt="Wide"><img src="/media/{small}" alt="Small">')
    wide_tag, small_tag = _images(render_email(issue).html)
    assert _size(wide_tag) == ("536", "200") and _size(small_tag) == ("120", "80")


def test_an_image_the_editor_sized_keeps_its_size() -> None:
    name = default_storage.save("uploads/pic.png", ContentFile(_png(300, 300)))
    issue = make_full_issue()
    _lead_body(issue, f'<img src="/media/{name}" alt="Sized" width="150" height="150">')
    (tag,) = _images(render_email(issue).html)
    assert _size(tag) == ("150", "150")


def test_every_image_of_an_issue_with_cover_and_pictures_is_sized() -> None:
    issue = _with_cover(32, 18)
    name = default_storage.save("uploads/pic.png", ContentFile(_png(640, 480)))
    _lead_body(issue, f'<p>A chart:</p><figure class="image"><img src="/media/{name}" alt="Chart"></figure>')
    images = _images(render_email(issue).html)
    assert len(images) == 2
    assert [_size(tag) for tag in images] == [("600", "338"), ("536", "402")]


def test_a_cover_whose_file_is_gone_is_left_out_rather_than_shown_broken() -> None:
    issue = _with_cover(32, 18)
    default_storage.delete(str(issue.cover_image.name))
    issue = Issue.objects.get(pk=issue.pk)
    assert _images(render_email(issue).html) == []
