"""Link previews: the cover when there is one, else a generated 1200 x 630
card with the title on the publication's colours, kept as a file and drawn
again when the title changes."""

import io
import re

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from issues import social_cards
from issues.tests.public_helpers import published

pytestmark = pytest.mark.django_db


def _meta(html: str) -> dict[str, str]:
    return dict(re.findall(r'<meta (?:property|name)="((?:og|twitter):[^"]+)" content="([^"]*)">', html))


def _card_files() -> list[str]:
    try:
        return sorted(default_storage.listdir(social_cards.CARD_FOLDER)[1])
    except FileNotFoundError:
        return []


def test_an_issue_with_a_cover_previews_the_cover_at_its_size(client, settings):
    settings.SITE_URL = "https://news.example.org"
    issue = published(full=False, slug="covered", cover=True, cover_alt="A robot")
    meta = _meta(client.get("/newsletter/covered/").content.decode())
    assert meta["og:image"] == f"https://news.example.org{issue.cover_image.url}"
    assert (meta["og:image:width"], meta["og:image:height"]) == ("32", "18")
    assert meta["og:image:alt"] == "A robot" and meta["twitter:card"] == "summary_large_image"
    assert _card_files() == []


def test_an_issue_without_a_cover_previews_a_generated_card_in_the_brand_colours(client, settings):
    settings.SITE_URL = "https://news.example.org"
    settings.BRAND_COLOR, settings.BRAND_TEXT_COLOR = "#123456", "#fafafa"
    published(full=False, slug="bare", title="Robots read the news, and other stories from a long week")
    meta = _meta(client.get("/newsletter/bare/").content.decode())
    (name,) = _card_files()
    assert meta["og:image"] == f"https://news.example.org/media/cards/{name}"
    assert meta["twitter:image"] == meta["og:image"]
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "630")
    assert meta["og:image:alt"] == "Robots read the news, and other stories from a long week"
    with default_storage.open(f"cards/{name}") as stored, Image.open(io.BytesIO(stored.read())) as card:
        assert card.size == (1200, 630) and card.format == "PNG"
        rgb = card.convert("RGB")
        assert rgb.getpixel((5, 5)) == (0x12, 0x34, 0x56)
        # The title is drawn in the text colour in the lower part of the card.
        lower = rgb.crop((80, 300, 1120, 560)).getcolors(1_000_000)
        assert any(colour == (0xFA, 0xFA, 0xFA) for _, colour in lower)


def test_the_card_is_kept_and_drawn_again_only_when_the_title_changes(settings, monkeypatch):
    issue = published(full=False, slug="kept", title="First title")
    first = social_cards.social_card_ensure(issue)
    drawn: list[dict] = []

    def draw(**kwargs: str) -> bytes:
        drawn.append(kwargs)
        return b"png"

    monkeypatch.setattr(social_cards, "social_card_png", draw)
    assert social_cards.social_card_ensure(issue) == first and drawn == []
    issue.title = "Second title"
    second = social_cards.social_card_ensure(issue)
    assert second != first and drawn[0]["title"] == "Second title"
    assert _card_files() == [second.split("/")[-1]]  # the old card is gone


def test_a_very_long_title_fits_the_card_in_at_most_four_lines():
    png = social_cards.social_card_png(
        title=" ".join(["Extraordinarily"] * 40), publisher="P", background="#000000", foreground="#ffffff"
    )
    with Image.open(io.BytesIO(png)) as card:
        assert card.size == (1200, 630)
        # Nothing is drawn into the right-hand margin.
        margin = card.convert("RGB").crop((1200 - 70, 0, 1200, 630))
        assert margin.getcolors() == [(70 * 630, (0, 0, 0))]


def test_the_card_takes_the_masthead_colour_and_name_once_editors_set_them(client, settings):
    from issues.models import Publication
    from issues.selectors import publication_cache_clear

    settings.BRAND_COLOR, settings.BRAND_TEXT_COLOR = "#123456", "#fafafa"
    issue = published(full=False, slug="branded", title="A masthead of our own")
    before = social_cards.social_card_ensure(issue)
    Publication.objects.create(pk=1, name="Morning Circuit", brand_colour="#fde047")  # a light yellow
    publication_cache_clear()
    look = social_cards.card_look()
    assert (look.publisher, look.background, look.foreground) == ("Morning Circuit", "#fde047", "#111111")
    client.get("/newsletter/branded/")
    (name,) = _card_files()
    assert f"cards/{name}" != before  # a new colour draws a new card, and the old one is gone
    with default_storage.open(f"cards/{name}") as stored, Image.open(io.BytesIO(stored.read())) as card:
        rgb = card.convert("RGB")
        assert rgb.getpixel((5, 5)) == (0xFD, 0xE0, 0x47)
        lower = rgb.crop((80, 300, 1120, 560)).getcolors(1_000_000)
        assert any(colour == (0x11, 0x11, 0x11) for _, colour in lower)
