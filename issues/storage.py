"""Uploaded images: one rule for the issue cover and the editor's uploads.

:func:`validate_image_file` is the rule (size, a format Pillow recognises,
pixel count, no markup beside the picture); :func:`image_file_name` makes the
stored name. The client's file name and extension are never kept: a file
named ``x.html`` or ``x.svg`` that also parses as a GIF would otherwise be
served from our own origin as a page that runs script. Both the cover field
(:class:`ImageUploadField`) and CKEditor (``CKEDITOR_5_FILE_STORAGE``) store
through :class:`CheckedImageStorage`, so no path stores an image around it.
"""

from __future__ import annotations

import posixpath
import re
import secrets
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import models
from PIL import Image

# Pillow's format name -> the extension we store it under.
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
ACCEPTED = "JPEG, PNG, GIF or WebP"
# Markup a browser would run if the file were ever rendered as HTML or SVG
# (a GIF/HTML polyglot). Only tags with a delimiter after them, so that the
# chance of a match in compressed pixel data stays negligible.
_MARKUP = re.compile(rb"<(?:script|html|body|svg|iframe|object|embed|!doctype)[\s/>]", re.IGNORECASE)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.3g}"


def _open_checked(file: Any) -> str:
    """The format Pillow detects, once the dimensions are known to be acceptable."""
    limit = settings.IMAGE_UPLOAD_MAX_PIXELS
    too_big = f"the largest accepted is {_megapixels(limit)} megapixels."
    try:
        with Image.open(file) as image:
            width, height = image.size
            if width * height > limit:
                raise ValidationError(
                    f"The image is {width} by {height} pixels ({_megapixels(width * height)} megapixels); {too_big}"
                )
            image_format = image.format or ""
            image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow refuses to open it at all: its header claims a huge size.
        bomb = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise ValidationError(f"The image is over {_megapixels(bomb)} megapixels; {too_big}") from None
    except ValidationError:
        raise
    except Exception:  # noqa: BLE001 - Pillow raises many kinds on a malformed file; each means "not an image"
        raise ValidationError(f"The file is not an image ({ACCEPTED}).") from None
    return image_format


def validate_image_file(file: Any) -> str:
    """Refuse what is not an acceptable image; return the format Pillow detected."""
    size = getattr(file, "size", None)
    if size is not None and size > settings.IMAGE_UPLOAD_MAX_BYTES:
        limit = settings.IMAGE_UPLOAD_MAX_BYTES // (1024 * 1024)
        raise ValidationError(f"The image is larger than {limit} MB.")
    try:
        file.seek(0)
        image_format = _open_checked(file)
        file.seek(0)
        holds_markup = _MARKUP.search(file.read()) is not None
    finally:
        file.seek(0)
    if image_format not in ALLOWED_FORMATS:
        raise ValidationError(f"{image_format} images are not accepted; use {ACCEPTED}.")
    if holds_markup:
        raise ValidationError("The file holds HTML or script besides the image; export it again from an image editor.")
    return image_format


def image_file_name(*, image_format: str) -> str:
    """An unguessable name with the extension of the detected format."""
    return f"{secrets.token_urlsafe(16)}.{ALLOWED_FORMATS[image_format]}"


class CheckedImageStorage(FileSystemStorage):
    """Stores a file only if it passes the image rule, under a name we make
    (in the folder asked for; the client's base name is dropped)."""

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        image_format = validate_image_file(content)
        folder = posixpath.dirname(name or "")
        return super().save(posixpath.join(folder, image_file_name(image_format=image_format)), content, max_length)


class EditorImageStorage(CheckedImageStorage):
    """Images uploaded in CKEditor, under MEDIA_ROOT/uploads/."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("location", str(settings.MEDIA_ROOT / "uploads"))
        kwargs.setdefault("base_url", settings.MEDIA_URL + "uploads/")
        super().__init__(**kwargs)


class CheckedImageFormField(forms.ImageField):
    """Runs the image rule before Django's own check, so a refused image gets
    our message (Django's says only "not a valid image" for a bomb). Django's
    check of the client's extension is dropped: the name is ours, made from the
    detected format, so the client's extension decides nothing."""

    default_validators: list[Any] = []  # Django's own attribute, replaced whole

    def to_python(self, data: Any) -> Any:
        if data and hasattr(data, "read"):
            validate_image_file(data)
        return super().to_python(data)


class ImageUploadField(models.ImageField):
    """An ImageField stored through CheckedImageStorage, with the same rule in its form field."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("storage", CheckedImageStorage)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": CheckedImageFormField, **kwargs})
