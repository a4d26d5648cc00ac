"""Share links readers can follow from an issue: plain addresses of each
network's own share page, so no third-party script or pixel comes along."""

from __future__ import annotations

from urllib.parse import quote, urlencode

FORWARD_REF = "forward"


def forward_url(url: str) -> str:
    """The issue's web page as a forwarded reader reaches it: it asks them to subscribe."""
    return f"{url}?{urlencode({'ref': FORWARD_REF})}"


def share_links(*, title: str, url: str) -> list[dict[str, str]]:
    """Label and address of each share target, in the order readers see them."""
    text = f"{title} {url}"
    return [
        {"label": "X", "name": "x", "href": "https://x.com/intent/post?" + urlencode({"url": url, "text": title})},
        {
            "label": "LinkedIn",
            "name": "linkedin",
            "href": "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": url}),
        },
        {"label": "Bluesky", "name": "bluesky", "href": "https://bsky.app/intent/compose?" + urlencode({"text": text})},
        # mailto: wants %20 for spaces, not "+"; a friend who follows it lands on the subscribe prompt.
        {
            "label": "Email",
            "name": "email",
            "href": f"mailto:?subject={quote(title, safe='')}&body={quote(f'{title} {forward_url(url)}', safe='')}",
        },
    ]
