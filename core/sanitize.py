"""Server-side allowlist for rich text (CKEditor 5 output).

Whatever the browser sent, only these tags and attributes survive: no
scripts, no event-handler attributes, no ``javascript:`` or ``data:`` links.
Every rich-text field passes through :func:`sanitize_html` on every save
(Section.clean, the admin forms and the save services all call it), and
again when rendered (issues.rendering), for rows that reached the database
another way.

Links are http(s), mailto or a path on our own site; a protocol-relative
``//host`` (which browsers also read in ``/\\host`` and ``\\\\host``) leaves
the site and loses its address. Images must come from our own media
(MEDIA_URL, on SITE_URL's host) or a host in RICH_TEXT_IMAGE_HOSTS: any other
source (a tracking pixel, a hot-linked picture) loses its ``src`` on save and
keeps its alt text, as an inline ``data:`` image always did. Content saved
before this rule is cleaned when rendered and flagged by issues.checks.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import nh3
from django.conf import settings

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "h2",
        "h3",
        "h4",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "s",
        "a",
        "ul",
        "ol",
        "li",
        "blockquote",
        "figure",
        "figcaption",
        "img",
        "code",
        "pre",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
}
ALLOWED_CLASSES = {"figure": {"image"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Tags removed together with their content: their text is never reader copy.
DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"})


# What a browser ignores in a URL (WHATWG URL parsing): C0 controls and
# spaces at either end, tabs and newlines anywhere.
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")


def _browser_view(url: str) -> str:
    return _TAB_OR_NEWLINE.sub("", url.strip(_C0_AND_SPACE))


def is_protocol_relative(url: str) -> bool:
    """``//host/...``: another site, in whatever scheme the page has."""
    return _browser_view(url)[:2].replace("\\", "/") == "//"


def _media_path() -> str:
    return urlsplit(settings.MEDIA_URL).path


def _under_media(path: str) -> bool:
    decoded = unquote(path).replace("\\", "/")
    return decoded.startswith(_media_path()) and ".." not in decoded.split("/")


def image_source_allowed(src: str) -> bool:
    """An image from our own media (relative, or on SITE_URL's or MEDIA_URL's
    host) or from a host an operator allowed in RICH_TEXT_IMAGE_HOSTS."""
    url = _browser_view(src)
    if not url or is_protocol_relative(url):
        return False
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return not urlsplit(settings.MEDIA_URL).netloc and _under_media(parts.path)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    if host in {allowed.lower() for allowed in settings.RICH_TEXT_IMAGE_HOSTS}:
        return True
    own = {urlsplit(settings.SITE_URL).hostname, urlsplit(settings.MEDIA_URL).hostname} - {None}
    return host in own and _under_media(parts.path)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href" and is_protocol_relative(value):
        return None
    if tag == "img" and attribute == "src" and not image_source_allowed(value):
        return None
    return value


def sanitize_html(value: str) -> str:
    """Return ``value`` reduced to the allowlist; links get rel="noopener noreferrer"."""
    if not value:
        return ""
    cleaned = nh3.clean(
        value,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        allowed_classes={tag: set(classes) for tag, classes in ALLOWED_CLASSES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=_attribute_filter,
    )
    return cleaned.strip()


# A details bullet's text or a quick link's line: emphasis and links only,
# never a block (a paragraph or list would break the line it sits in).
INLINE_TAGS = frozenset({"strong", "b", "em", "i", "a"})


def sanitize_inline(value: str) -> str:
    """Return ``value`` reduced to inline emphasis and links (same link rules
    as :func:`sanitize_html`); the text of any other tag is kept, the tag not."""
    if not value:
        return ""
    cleaned = nh3.clean(
        value,
        tags=set(INLINE_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={"a": {"href", "title"}},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=_attribute_filter,
    )
    return cleaned.replace("&nbsp;", " ").strip()
