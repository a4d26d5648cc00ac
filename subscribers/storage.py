"""Where uploaded CSV files wait between the preview and the import.

They hold readers' addresses, so they never go under MEDIA_ROOT (which the
proxy serves publicly at /media/): they live in IMPORT_FILES_ROOT (default
<NEWSROOM_VAR_DIR>/imports), have no URL, get a random name, and are deleted
once the import ran or a day after an upload nobody confirmed. With web and
worker on different machines, IMPORT_FILES_ROOT must be a directory both mount.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage


def import_files_root() -> Path:
    return Path(getattr(settings, "IMPORT_FILES_ROOT", None) or Path(settings.VAR_DIR) / "imports")


class ImportFileStorage(FileSystemStorage):
    """A private file store: no base URL, so nothing in it can be linked to."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(location=import_files_root(), base_url=None, **kwargs)

    def url(self, name: str | None) -> str:
        raise ValueError("Uploaded import files have no URL.")


def import_storage() -> ImportFileStorage:
    return ImportFileStorage()


def import_file_name(instance: Any, filename: str) -> str:
    """A random name: the editor's file name is kept on the job, not on disk."""
    return f"{uuid.uuid4().hex}.csv"
