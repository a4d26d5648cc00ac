"""Width and height on every image of the issue email.

Mail clients that block images until the reader allows them (and Outlook,
which ignores CSS sizes) lay the message out from these attributes alone;
without them the layout jumps, or a picture shows at its full pixel size.
Sizes are read from our own media files; the email is rendered once per send,
so the files are opened once per send too.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.images import get_image_dimensions
from django.core.files.storage import default_storage

from issues.models import Issue

# The container is 600 px; the cover spans it, rich text sits inside 32 px padding.
COVER_WIDTH = 600
TEXT_WIDTH = 600 - 2 * 32
_IMG = re.compile(r"<img\b[^>]*>")
_ATTR = re.compile(r'\s(width|height|src)="([^"]*)"')


def _scaled(width: int, height: int, box: int) -> tuple[int, int]:
    shown = min(width, box)
    return shown, max(1, round(height * shown / width))


def cover_size(issue: Issue) -> tuple[int, int] | None:
    """The cover as the email shows it, across the container; None when its file cannot be read."""
    try:
        width, height = issue.cover_image.width, issue.cover_image.height
    except (OSError, ValueError, SuspiciousFileOperation):
        return None
    if not width or not height:
        return None
    return COVER_WIDTH, max(1, round(height * COVER_WIDTH / width))


def _media_name(src: str) -> str | None:
    path = urlsplit(src).path
    media = urlsplit(settings.MEDIA_URL).path
    return unquote(path[len(media) :]) if path.startswith(media) else None


def _media_size(src: str) -> tuple[int, int] | None:
    name = _media_name(src)
    if not name:
        return None
    try:
        with default_storage.open(name) as handle:
            width, height = get_image_dimensions(handle)
    except (OSError, ValueError, SuspiciousFileOperation):
        return None
    return (width, height) if width and height else None


def _sized(tag: str) -> str:
    attrs = dict(_ATTR.findall(tag))
    if attrs.get("width", "").isdigit() and attrs.get("height", "").isdigit():
        return tag
    size = _media_size(attrs.get("src", ""))
    if size is None:
        return tag
    width, height = _scaled(*size, TEXT_WIDTH)
    bare = re.sub(r'\s(?:width|height)="[^"]*"', "", tag)
    return f'<img width="{width}" height="{height}"{bare[len("<img") :]}'


def size_images(fragment: str) -> str:
    """``fragment`` (sanitised rich text) with width and height on each image from our media."""
    return _IMG.sub(lambda m: _sized(m.group(0)), fragment) if "<img" in fragment else fragment
