"""Merge tags: both syntaxes filled, unknown tags blanked or kept, HTML values escaped."""

from __future__ import annotations

import pytest

from core.merge import brevo_tag, mailgun_tag, merge, merge_html


@pytest.mark.parametrize("tag", [mailgun_tag, brevo_tag])
def test_it_fills_every_tag_of_each_known_key(tag) -> None:  # type: ignore[no-untyped-def]
    template = f"Hi {tag('name')}, {tag('name')}: {tag('unsubscribe_url')}"

    assert (
        merge(template, {"name": "Ada", "unsubscribe_url": "https://x/u/1/"}, tag=tag) == "Hi Ada, Ada: https://x/u/1/"
    )


def test_an_unknown_key_is_blanked_unless_kept() -> None:
    template = "Hi %recipient.name%, %recipient.nickname%"

    assert merge(template, {"name": "Ada"}) == "Hi Ada, "
    assert merge(template, {"name": "Ada"}, keep_unknown=True) == "Hi Ada, %recipient.nickname%"


def test_the_html_variant_escapes_values_and_the_text_one_does_not() -> None:
    name = '<a href="https://evil.example/">Ada</a>'

    assert merge_html("<p>Hi %recipient.name%</p>", {"name": name}) == (
        "<p>Hi &lt;a href=&quot;https://evil.example/&quot;&gt;Ada&lt;/a&gt;</p>"
    )
    assert merge("Hi %recipient.name%", {"name": name}) == f"Hi {name}"


def test_a_value_that_looks_like_a_tag_is_not_filled_again() -> None:
    values = {"name": "%recipient.unsubscribe_url%", "unsubscribe_url": "https://x/u/1/"}

    assert merge("Hi %recipient.name%", values) == "Hi %recipient.unsubscribe_url%"


def test_the_other_syntax_is_left_alone() -> None:
    assert merge("{{ params.name }} %recipient.name%", {"name": "Ada"}, tag=brevo_tag) == "Ada %recipient.name%"
