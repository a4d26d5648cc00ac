"""Server-side allowlist for rich text (CKEditor 5 output).

Whatever the browser sent, only these tags and attributes survive: no
scripts, no event-handler attributes, no ``javascript:`` or ``data:`` links.
Every rich-text field passes through :func:`sanitize_html` on every save
(Section.clean, the admin forms and the save services all call it), and
again when rendered (issues.rendering), for rows that reached the database
another way.
"""

from __future__ import annotations

import nh3

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
    )
    return cleaned.strip()
