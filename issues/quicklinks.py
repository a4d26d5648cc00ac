"""A quick link as a reader scans it: the linked words stand out, the rest of
the line is plain text.

The composer lets an editor link some words of the line themselves (CKEditor's
inline toolbar); such a line is shown as written, never wrapped in its URL as
well. A line with only a URL beside it gets its headline words linked: its
bold words when it has some, else the words before a colon or a dash ("Basalt
AI: half-price batch jobs"), else none of the sentence is cut and the source's
host follows it as the link ("… can wait a day. example.com →"), since a
guessed cut through a sentence reads worse than no cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import urlsplit

from django.utils.html import escape, strip_tags

from issues.models import SectionItem

# The headline: at most 80 characters before a colon or a spaced hyphen, en or em dash.
_HEAD = re.compile(r"^(?P<head>[^<>]{3,80}?)(?P<sep>:\s|\s[-\u2013\u2014]\s)(?P<rest>.+)$", re.S)
_BOLD = re.compile(r"<(strong|b)>(.+?)</\1>", re.S)


@dataclass(frozen=True)
class QuickLine:
    """One line's HTML, and its plain text with the link as [words](url) or on a line of its own."""

    html: str
    text: str
    url_below: str


def _link(url: str, inner: str) -> str:
    return f'<a class="quick-link" href="{escape(url)}">{inner}</a>'


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def quick_line(item: SectionItem) -> QuickLine:
    html, url = str(item.text_html), item.url
    if not url or item.links_itself:
        return QuickLine(html=html, text=item.text_plain, url_below="")
    bold = _BOLD.search(html)
    if bold:
        linked = html[: bold.start()] + f"<strong>{_link(url, bold.group(2))}</strong>" + html[bold.end() :]
        before, after = strip_tags(html[: bold.start()]), strip_tags(html[bold.end() :])
        plain = f"{before}[{strip_tags(bold.group(2))}]({url}){after}"
        return QuickLine(html=linked, text=unescape(plain), url_below="")
    head = _HEAD.match(html)
    if head:
        linked = _link(url, head["head"]) + head["sep"] + head["rest"]
        plain = f"[{head['head']}]({url}){head['sep']}{strip_tags(head['rest'])}"
        return QuickLine(html=linked, text=unescape(plain), url_below="")
    host = escape(_host(url))
    return QuickLine(html=f"{html} {_link(url, f'{host}&nbsp;&rarr;')}", text=item.text_plain, url_below=url)
