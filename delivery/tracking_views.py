"""The first-party tracking endpoints readers reach from an email: the click redirect and
the open pixel. Thin: they read the request and call delivery.firstparty.

Neither is ever cached (core.pagecache stores only views that opt in, and
``never_cache`` tells browsers and proxies the same), so every click and the
first open reach the database."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from delivery import firstparty


def _visit(request: HttpRequest) -> firstparty.Visit:
    return firstparty.Visit(method=request.method or "GET", user_agent=request.headers.get("User-Agent", "")[:500])


@never_cache
@require_safe
def click(request: HttpRequest, token: str) -> HttpResponse:
    """302 to the issue's own link, after storing the click; 404 for a link we did not send."""
    try:
        url = firstparty.click_record(token=token, visit=_visit(request))
    except firstparty.InvalidTrackingToken as exc:
        raise Http404(str(exc)) from None
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_safe
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    """The transparent pixel, after storing the reader's open (once); 404 for a forged token
    and for a replayed pixel (the reader's open is already stored), which stores nothing.

    The 404 on a replay is the issue's rule ("a replayed pixel: 404, nothing stored"): a
    mail client that opens the email again shows no image, which is invisible for a
    1x1 transparent GIF. A scanner's fetch is stored apart and answered with the image."""
    try:
        stored = firstparty.open_record(token=token, visit=_visit(request))
    except firstparty.InvalidTrackingToken as exc:
        raise Http404(str(exc)) from None
    if stored is None:
        raise Http404("This open is already recorded.")
    return HttpResponse(firstparty.PIXEL_GIF, content_type="image/gif")
