"""The audience in the admin: readers, lists and tags (readers.py); segments,
suppressions and CSV imports (records.py). Importing both registers them."""

from subscribers.admin import readers, records

__all__ = ["readers", "records"]
