"""The link-preview image of an issue: its cover, or for an issue without one
a generated card (1200 x 630, the size Facebook, LinkedIn and X show large)
with the title on the publication's colours: the brand colour editors set on
*Publication and masthead* in the admin, with black or white text (whichever
reads better on it), under the masthead's name. Before anyone saves the
masthead, the BRAND_COLOR / BRAND_TEXT_COLOR settings and PUBLISHER_NAME.

A card is a PNG under MEDIA_ROOT/cards/, named after the issue and a hash of
what is drawn on it, so a changed title (or name, or colour) makes a new file
on the next render of the page and the old one is removed.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw, ImageFont

from issues.models import Issue
from issues.selectors import publication

CARD_WIDTH, CARD_HEIGHT = 1200, 630
CARD_FOLDER = "cards"
# Bump when the drawing changes, so every card is made again.
CARD_DESIGN = "1"
FONT_PATH = Path(settings.BASE_DIR) / "static" / "fonts" / "inter-latin-wght-normal.woff2"
_MARGIN = 80
_TITLE_SIZES = (76, 66, 56, 48)
_MAX_LINES = 4


@dataclass(frozen=True)
class ShareImage:
    url: str
    width: int
    height: int
    alt: str


def _font(size: int, weight: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(str(FONT_PATH), size)
    font.set_variation_by_axes([weight])
    return font


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _title_lines(draw: ImageDraw.ImageDraw, title: str) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    width = CARD_WIDTH - 2 * _MARGIN
    for size in _TITLE_SIZES:
        font = _font(size, 750)
        lines = _wrap(draw, title, font, width)
        if len(lines) <= _MAX_LINES:
            return font, lines
    lines = lines[:_MAX_LINES]
    lines[-1] = lines[-1].rstrip(".,;:") + "…"
    return font, lines


def social_card_png(*, title: str, publisher: str, background: str, foreground: str) -> bytes:
    """The card as PNG bytes: the publisher's name above, the title below, a rule between."""
    image = Image.new("RGB", (CARD_WIDTH, CARD_HEIGHT), background)
    draw = ImageDraw.Draw(image)
    draw.text((_MARGIN, _MARGIN), publisher, font=_font(36, 650), fill=foreground)
    draw.rectangle((_MARGIN, _MARGIN + 64, _MARGIN + 96, _MARGIN + 72), fill=foreground)
    font, lines = _title_lines(draw, title)
    line_height = int(font.size * 1.18)
    y = CARD_HEIGHT - _MARGIN - line_height * len(lines)
    for line in lines:
        draw.text((_MARGIN, y), line, font=font, fill=foreground)
        y += line_height
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


@dataclass(frozen=True)
class CardLook:
    publisher: str
    background: str
    foreground: str


def card_look() -> CardLook:
    """The masthead's name and colours once an editor saved them, else the settings'."""
    pub = publication()
    if pub._state.adding:
        return CardLook(settings.PUBLISHER_NAME, settings.BRAND_COLOR, settings.BRAND_TEXT_COLOR)
    return CardLook(pub.shown_name, pub.brand_colour, pub.brand_text_colour)


def _card_name(issue: Issue, look: CardLook) -> str:
    drawn = "\n".join([CARD_DESIGN, issue.title, look.publisher, look.background, look.foreground])
    return f"{CARD_FOLDER}/issue-{issue.pk}-{hashlib.sha256(drawn.encode()).hexdigest()[:16]}.png"


def _old_cards_remove(issue: Issue, keep: str) -> None:
    try:
        _, files = default_storage.listdir(CARD_FOLDER)
    except FileNotFoundError:
        return
    for name in files:
        if name.startswith(f"issue-{issue.pk}-") and f"{CARD_FOLDER}/{name}" != keep:
            default_storage.delete(f"{CARD_FOLDER}/{name}")


def social_card_ensure(issue: Issue) -> str:
    """The storage name of the issue's generated card, drawn now if its title
    (or the publication's name or colours) changed since the last one."""
    look = card_look()
    name = _card_name(issue, look)
    if not default_storage.exists(name):
        png = social_card_png(
            title=issue.title, publisher=look.publisher, background=look.background, foreground=look.foreground
        )
        # The name is ours and fixed: saved as it is, not renamed on a clash.
        default_storage.save(name, ContentFile(png))
        _old_cards_remove(issue, keep=name)
    return name


def share_image(issue: Issue) -> ShareImage:
    """What link previews show for ``issue``: its cover with its size and alt
    text, else its generated card."""
    if issue.cover_image:
        try:
            width, height = issue.cover_image.width, issue.cover_image.height
        except (OSError, ValueError):  # the file is gone: the card stands in
            pass
        else:
            return ShareImage(url=issue.cover_image.url, width=width, height=height, alt=issue.cover_alt)
    name = social_card_ensure(issue)
    return ShareImage(url=default_storage.url(name), width=CARD_WIDTH, height=CARD_HEIGHT, alt=issue.title)
