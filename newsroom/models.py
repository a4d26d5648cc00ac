"""Site-wide content editors manage: footer pages and header navigation."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.urls import reverse
from django_ckeditor_5.fields import CKEditor5Field

from core.sanitize import sanitize_html


def validate_nav_url(value: str) -> None:
    """A header link is a path on this site ("/newsletter/", "#subscribe") or
    an http(s) address: never javascript:, data: or a scheme-relative "//host"."""
    if value.startswith("#") or (value.startswith("/") and not value.startswith("//")):
        if any(ch.isspace() or not ch.isprintable() for ch in value):
            raise ValidationError("A path cannot contain spaces or control characters.")
        return
    if urlsplit(value).scheme.lower() not in ("http", "https"):
        raise ValidationError("Enter a path on this site starting with “/” or an http(s):// address.")
    URLValidator(schemes=["http", "https"], message="Enter a valid http(s):// address.")(value)


class SitePage(models.Model):
    """An editable page such as Privacy Policy, Support or Advertise with us."""

    title = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    body = CKEditor5Field(blank=True, config_name="default")
    show_in_footer = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("site-page", args=[self.slug])

    def clean(self) -> None:
        # The body is shown to every visitor as HTML: keep only the rich-text allowlist.
        self.body = sanitize_html(self.body)


class NavLink(models.Model):
    """One entry of the site header's navigation (e.g. Courses, Guides, Tools)."""

    label = models.CharField(max_length=40)
    url = models.CharField(
        max_length=300,
        validators=[validate_nav_url],
        help_text="A path on this site, e.g. /newsletter/, or an https:// address.",
    )
    position = models.PositiveIntegerField(default=0, db_index=True)

    class Meta:
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label
