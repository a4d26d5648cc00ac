"""The demo publication's masthead: a logo drawn with Pillow, the tagline and the brand colour."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile

from demo import content
from issues.models import Publication
from issues.services import publication_save


def logo_png(*, colour: str) -> bytes:
    """An original 112 pixel square mark (twice the size it is shown at) on a transparent ground:
    a folded page with three lines of type on a rounded square in the brand colour."""
    from PIL import Image, ImageDraw

    rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.new("RGBA", (112, 112), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, 108, 108), radius=24, fill=(*rgb, 255))
    draw.polygon([(32, 24), (66, 24), (80, 38), (80, 88), (32, 88)], fill=(255, 255, 255, 255))
    draw.polygon([(66, 24), (80, 38), (66, 38)], fill=(*rgb, 150))
    for y in (50, 60, 70):
        draw.line([(40, y), (72, y)], fill=(*rgb, 255), width=4)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def publication_ensure() -> list[str]:
    """Set the masthead once; a masthead an editor has saved is left as it is."""
    if Publication.objects.filter(pk=1).exists():
        return []
    publication = Publication(pk=1, **content.PUBLICATION)
    png = logo_png(colour=publication.brand_colour)
    publication.logo.save("logo.png", ContentFile(png), save=False)
    publication.full_clean()
    publication_save(publication=publication, acting_user=None)
    return ["publication masthead with a logo"]
