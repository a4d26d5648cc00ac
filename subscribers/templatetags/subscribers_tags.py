from __future__ import annotations

from typing import Any

from django import template

from subscribers.forms import SubscribeForm
from subscribers.services import CONSENT_TEXT

register = template.Library()


@register.inclusion_tag("subscribers/_subscribe_fields.html", takes_context=True)
def subscribe_form(context: template.Context, form: Any = None) -> dict[str, Any]:
    """The subscribe form shown on every page (base.html's subscribe block).

    It carries no CSRF token, so the page around it is the same for every
    visitor and can be cached whole; subscribers.views.subscribe checks the
    browser's Sec-Fetch-Site / Origin instead."""
    # A form shown again with its errors keeps the page it was first sent from.
    page = form.data.get("source", "") if form is not None and form.is_bound else ""
    return {
        "form": form or SubscribeForm(auto_id="sub_%s"),
        "consent_text": CONSENT_TEXT,
        "source": page or getattr(context.get("request"), "path", ""),
    }
