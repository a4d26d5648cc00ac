"""Storage for images uploaded through CKEditor: checks type and size first."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}


def validate_image_file(file: Any) -> None:
    """Reject files that are too large or are not a real image of an allowed type."""
    size = getattr(file, "size", None)
    if size is not None and size > settings.IMAGE_UPLOAD_MAX_BYTES:
        limit = settings.IMAGE_UPLOAD_MAX_BYTES // (1024 * 1024)
        raise ValidationError(f"The image is larger than {limit} MB.")
    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ValidationError("The file is not an image (JPEG, PNG, GIF or WebP).") from None
    finally:
        file.seek(0)
    if image_format not in ALLOWED_FORMATS:
        raise ValidationError(f"{image_format} images are not accepted; use JPEG, PNG, GIF or WebP.")


class CheckedImageStorage(FileSystemStorage):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("location", str(settings.MEDIA_ROOT / "uploads"))
        kwargs.setdefault("base_url", settings.MEDIA_URL + "uploads/")
        super().__init__(**kwargs)

    def _save(self, name: str, content: Any) -> str:  # type: ignore[override,misc]
        validate_image_file(content)
        return super()._save(name, content)  # type: ignore[misc]
