"""The one image rule, through CKEditor's upload URL (as a contributor) and the cover field."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from issues.models import Issue
from issues.tests.test_admin_issue import new_issue_data

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/ckeditor5/image_upload/"
STORED_NAME = re.compile(r"^[A-Za-z0-9_-]{22}\.(jpg|png|gif|webp)$")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><circle r="4"/></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def image_bytes(image_format: str, size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "blue").save(buffer, image_format)
    return buffer.getvalue()


def gif_html_polyglot() -> bytes:
    """A GIF Pillow reads and verifies, with a page behind its trailer."""
    return image_bytes("GIF") + b"<html><body><script>alert(document.cookie)</script></body></html>"


def gif_with_script_comment() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (4, 4)).save(buffer, "GIF", comment=b"<script>alert(1)</script>")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims width x height (no pixels are ever made)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 16)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


@pytest.fixture
def contributor_client(contributor) -> Client:
    client = Client()
    client.force_login(contributor)
    return client


@pytest.fixture
def editor_client(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


def _uploads() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(
    ("client_name", "image_format", "extension"),
    [("photo.png", "PNG", "png"), ("x.html", "GIF", "gif"), ("x.svg", "JPEG", "jpg"), ("cat.gif", "WEBP", "webp")],
)
def test_an_editor_upload_is_stored_under_our_name_with_the_detected_extension(
    contributor_client, client_name: str, image_format: str, extension: str
) -> None:
    upload = SimpleUploadedFile(client_name, image_bytes(image_format), content_type="text/html")
    response = contributor_client.post(UPLOAD_URL, {"upload": upload})
    assert response.status_code == 200
    [stored] = _uploads()
    assert STORED_NAME.match(stored.name)
    assert stored.suffix == f".{extension}"
    assert response.json()["url"] == f"/media/uploads/{stored.name}"


def test_two_uploads_of_the_same_file_get_different_unguessable_names(contributor_client) -> None:
    for _ in range(2):
        contributor_client.post(UPLOAD_URL, {"upload": SimpleUploadedFile("chart.png", image_bytes("PNG"))})
    names = [path.name for path in _uploads()]
    assert len(set(names)) == 2
    assert all(STORED_NAME.match(name) for name in names)


@pytest.mark.parametrize(
    ("client_name", "content", "message"),
    [
        ("x.html", gif_html_polyglot(), "holds HTML or script besides the image"),
        ("x.gif", gif_with_script_comment(), "holds HTML or script besides the image"),
        ("x.svg", SVG, "The file is not an image (JPEG, PNG, GIF or WebP)."),
        ("x.html", HTML, "The file is not an image (JPEG, PNG, GIF or WebP)."),
        ("x.bmp", image_bytes("BMP"), "BMP images are not accepted; use JPEG, PNG, GIF or WebP."),
    ],
    ids=["gif-html-polyglot", "gif-script-comment", "svg", "html", "bmp"],
)
def test_polyglots_svg_html_and_other_types_are_refused_and_nothing_is_stored(
    contributor_client, client_name: str, content: bytes, message: str
) -> None:
    response = contributor_client.post(UPLOAD_URL, {"upload": SimpleUploadedFile(client_name, content)})
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert _uploads() == []


def test_a_decompression_bomb_gets_a_clear_json_error_not_a_500(contributor_client) -> None:
    bomb = png_claiming(30_000, 30_000)  # 900 megapixels in under 100 bytes
    response = contributor_client.post(UPLOAD_URL, {"upload": SimpleUploadedFile("bomb.png", bomb)})
    assert response.status_code == 400
    assert "the largest accepted is 40 megapixels" in response.json()["error"]["message"]
    assert _uploads() == []


def test_an_image_over_the_pixel_limit_is_refused_with_its_size(contributor_client) -> None:
    big = png_claiming(12_000, 12_000)  # 144 megapixels: Pillow only warns
    response = contributor_client.post(UPLOAD_URL, {"upload": SimpleUploadedFile("big.png", big)})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "big.png: The image is 12000 by 12000 pixels (144 megapixels); the largest accepted is 40 megapixels."
    )


def test_the_pixel_limit_is_a_setting(contributor_client, settings) -> None:
    settings.IMAGE_UPLOAD_MAX_PIXELS = 100
    response = contributor_client.post(
        UPLOAD_URL, {"upload": SimpleUploadedFile("a.png", image_bytes("PNG", (11, 10)))}
    )
    assert response.status_code == 400
    assert "11 by 10 pixels" in response.json()["error"]["message"]
    ok = contributor_client.post(UPLOAD_URL, {"upload": SimpleUploadedFile("b.png", image_bytes("PNG", (10, 10)))})
    assert ok.status_code == 200


def _post_cover(client: Client, name: str, content: bytes):
    cover = SimpleUploadedFile(name, content, content_type="image/png")
    return client.post(reverse("admin:issues_issue_add"), new_issue_data(cover_image=cover, cover_alt="A cover"))


def test_a_cover_is_stored_under_our_name_with_the_detected_extension(editor_client) -> None:
    assert _post_cover(editor_client, "cover.html", image_bytes("JPEG")).status_code == 302
    name = Issue.objects.get().cover_image.name
    folder, base = name.rsplit("/", 1)
    assert re.fullmatch(r"covers/\d{4}/\d{2}", folder)
    assert STORED_NAME.match(base)
    assert base.endswith(".jpg")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.html", gif_html_polyglot(), "holds HTML or script besides the image"),
        ("c.svg", SVG, "The file is not an image (JPEG, PNG, GIF or WebP)."),
        ("bomb.png", png_claiming(30_000, 30_000), "the largest accepted is 40 megapixels"),
        ("big.png", png_claiming(13_000, 13_000), "13000 by 13000 pixels (169 megapixels)"),
    ],
    ids=["gif-html-polyglot", "svg", "bomb-900mp", "169mp"],
)
def test_the_cover_field_refuses_what_the_editor_upload_refuses(
    editor_client, contributor_client, name: str, content: bytes, message: str
) -> None:
    response = _post_cover(editor_client, name, content)
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors["cover_image"])
    assert not Issue.objects.exists()
    upload = contributor_client.post(UPLOAD_URL, {"upload": SimpleUploadedFile(name, content)})
    assert message in upload.json()["error"]["message"]


def test_a_cover_saved_in_code_goes_through_the_same_rule() -> None:
    from django.core.exceptions import ValidationError
    from django.core.files.base import ContentFile

    from testing.factories import IssueFactory

    issue = IssueFactory.create()
    with pytest.raises(ValidationError, match="holds HTML or script"):
        issue.cover_image.save("x.html", ContentFile(gif_html_polyglot()))
    issue.cover_image.save("x.html", ContentFile(image_bytes("GIF")))
    assert issue.cover_image.name.endswith(".gif")
    assert not list((Path(settings.MEDIA_ROOT) / "covers").rglob("*.html"))
