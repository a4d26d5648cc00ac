"""The local development outbox at /dev/outbox/ (DEBUG only)."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin

from core.models import OutboxMessage


def _debug_only() -> None:
    if not settings.DEBUG:
        raise Http404


@never_cache
def outbox_list(request: HttpRequest) -> HttpResponse:
    _debug_only()
    to = request.GET.get("to", "").strip()
    messages = OutboxMessage.objects.all()
    if to:
        messages = messages.filter(to__icontains=to)
    return render(request, "core/outbox_list.html", {"outbox_messages": messages[:200], "to": to})


@never_cache
def outbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _debug_only()
    message = get_object_or_404(OutboxMessage, pk=pk)
    return render(request, "core/outbox_detail.html", {"message": message})


_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


def _links_open_on_top(html: str) -> str:
    """Make a click on a link in the framed email (say, a confirmation link)
    open in the whole tab: the site's own pages refuse to be framed."""
    base = '<base target="_top">'
    match = _HEAD.search(html)
    if match is None:
        return base + html
    return html[: match.end()] + base + html[match.end() :]


@never_cache
@xframe_options_sameorigin
def outbox_html(request: HttpRequest, pk: int) -> HttpResponse:
    _debug_only()
    message = get_object_or_404(OutboxMessage, pk=pk)
    response = HttpResponse(_links_open_on_top(message.html_body or "<p>(no HTML part)</p>"))
    # The stored HTML is our own rendered email; still, keep it from running scripts.
    response["Content-Security-Policy"] = "script-src 'none'; frame-ancestors 'self'"
    return response
