"""The "Publication and masthead" admin page: editors set the logo, name,
tagline, brand colour and replies; bad input is refused and nothing is stored."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from issues.models import IssueStatus, Publication
from testing.factories import PASSWORD, IssueFactory, make_full_issue

pytestmark = pytest.mark.django_db

ADD = "/admin/issues/publication/add/"
CHANGE = "/admin/issues/publication/1/change/"


def _png(width: int = 240, height: int = 60) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (29, 78, 216, 255)).save(out, format="PNG")
    return SimpleUploadedFile("my logo.png", out.getvalue(), content_type="image/png")


def _form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Morning Circuit",
        "tagline": "Chips, code and the people behind them",
        "logo_alt": "Morning Circuit",
        "logo_display_width": "120",
        "brand_colour": "#1D4ED8",
        "reply_prompt": "Reply: we read every one.",
    }
    return {**data, **overrides}


def _signed_in(user: object) -> Client:
    client = Client()
    client.login(username=user.username, password=PASSWORD)  # type: ignore[attr-defined]
    return client


def test_an_editor_sets_the_masthead_and_the_logo_size_is_read_from_the_file(editor, settings) -> None:
    settings.DEFAULT_FROM_EMAIL = "Morning Circuit <editors@circuit.example>"
    client = _signed_in(editor)
    assert client.get("/admin/issues/publication/")["Location"] == ADD  # one page, not a list
    response = client.post(ADD, _form(logo=_png(), replies_welcome="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    pub = Publication.objects.get()
    assert (pub.pk, pub.logo_width, pub.logo_height, pub.logo_display_height) == (1, 240, 60, 30)
    assert pub.brand_colour == "#1d4ed8" and pub.replies_welcome
    assert str(pub.logo.name).startswith("publication/") and "my logo" not in str(pub.logo.name)
    page = client.get(CHANGE).content.decode()
    assert "240 by 60 pixels, shown at 120 by 30 in the email." in page
    assert client.get("/admin/issues/publication/")["Location"] == CHANGE
    assert client.get(ADD).status_code == 403  # there is only one


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"logo_alt": ""}, "logo_alt", "alt text is required when a logo is set"),
        ({"brand_colour": "blue"}, "brand_colour", "Enter a colour as # and six hex digits"),
        ({"logo_display_width": "400"}, "logo_display_width", "The logo is only 240 pixels wide"),
        ({"logo_display_width": "900"}, "logo_display_width", "less than or equal to 536"),
    ],
)
def test_bad_input_is_refused_at_its_field_and_nothing_is_stored(editor, overrides, field, message) -> None:
    response = _signed_in(editor).post(ADD, _form(logo=_png(), **overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert not Publication.objects.exists()


def test_replies_cannot_be_invited_from_a_no_reply_address(editor, settings) -> None:
    settings.DEFAULT_FROM_EMAIL = "Morning Circuit <no-reply@circuit.example>"
    response = _signed_in(editor).post(ADD, _form(replies_welcome="on"))
    assert "says it takes no replies" in " ".join(response.context["adminform"].form.errors["replies_welcome"])
    assert not Publication.objects.exists()


def test_a_contributor_may_not_change_the_masthead(contributor) -> None:
    assert _signed_in(contributor).post(ADD, _form()).status_code == 403
    assert not Publication.objects.exists()


def test_a_saved_masthead_shows_in_the_next_email_preview(editor) -> None:
    client = _signed_in(editor)
    client.post(ADD, _form(name="Morning Circuit"))
    issue = make_full_issue()
    html = client.get(f"/admin/issues/issue/{issue.pk}/preview/email/").content.decode()
    assert ">Morning Circuit</p>" in html and "Chips, code and the people behind them" in html


def test_an_issue_number_taken_by_another_issue_is_refused_with_a_message(editor) -> None:
    IssueFactory.create(number=12, status=IssueStatus.SENT)
    issue = IssueFactory.create(status=IssueStatus.DRAFT)
    from issues.forms import IssueAdminForm

    form = IssueAdminForm(data={"title": issue.title, "slug": issue.slug, "number": "12"}, instance=issue)
    assert not form.is_valid()
    assert form.errors["number"] == [
        "Another issue already has this number; choose a different one, or leave it empty."
    ]
