"""Reader-facing pages: subscribe, confirm, preferences, unsubscribe. Thin: parse, call a service, render."""

from __future__ import annotations

import json
import logging

import redis.exceptions
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from core.net import client_ip
from core.origin import cors_headers, embed_origin_allowed, request_origin, same_origin_post
from core.queue import TaskQueueUnavailable
from subscribers import privacy, services
from subscribers.forms import PreferencesForm, ResendForm, SubscribeForm
from subscribers.links import (
    CONFIRM_MAX_AGE,
    CONFIRM_SALT,
    KEEP_SALT,
    LINK_MAX_AGE,
    PREFERENCES_SALT,
    UNSUBSCRIBE_SALT,
    InvalidLink,
    links_for,
    read_token,
)
from subscribers.models import Subscriber, SubscriberStatus
from subscribers.normalise import normalise_email
from subscribers.selectors import subscriber_for_token

# Enough for a household behind one address; too few to flood anyone's inbox.
RATE_PER_IP = "20/h"
RATE_PER_ADDRESS = "5/h"

logger = logging.getLogger(__name__)


class CacheUnavailable(ConnectionError):
    """The cache that counts attempts (Redis) did not answer, so the request is not handled at all.

    Django has no exception for 503; this is the built-in ConnectionError it stands for."""


def _client(request: HttpRequest) -> tuple[str | None, str]:
    return client_ip(request) or None, request.META.get("HTTP_USER_AGENT", "")[:500]


def _address_key(group: str, request: HttpRequest) -> str:
    try:
        return normalise_email(request.POST.get("email", "")).lower()
    except ValidationError:
        return request.POST.get("email", "").strip().lower()[:300]


def _rate_limited(request: HttpRequest, group: str) -> bool:
    """True if this client or address asked too often; CacheUnavailable if that cannot be counted."""
    try:
        by_ip = is_ratelimited(request, group=f"{group}-ip", key="ip", rate=RATE_PER_IP, method="POST", increment=True)
        by_address = is_ratelimited(
            request, group=f"{group}-address", key=_address_key, rate=RATE_PER_ADDRESS, method="POST", increment=True
        )
    except redis.exceptions.RedisError as exc:
        # Without a count the limit cannot hold: handle nothing rather than let a flood through.
        logger.warning("Rate-limit cache unavailable, %s not handled: %s", group, exc)
        raise CacheUnavailable from exc
    return bool(by_ip or by_address)


def _too_many(request: HttpRequest) -> HttpResponse:
    return render(request, "subscribers/too_many.html", status=429)


def _try_later(request: HttpRequest, *, what: str, form: SubscribeForm | ResendForm) -> HttpResponse:
    """The queue or the cache is down: say what happened and offer ``form`` to ask again.

    ``what``: "not_sent" (a fresh link not queued) or "nothing" (nothing stored).
    """
    context = {"form": form, "what": what, "is_subscribe": isinstance(form, SubscribeForm)}
    response = render(request, "subscribers/try_later.html", context, status=503)
    response["Retry-After"] = "120"
    return response


def _resend_form(email: str) -> ResendForm:
    return ResendForm(initial={"email": email})


def _subscribe_handle(request: HttpRequest, form: SubscribeForm, *, source: str | None = None) -> str:
    """The on-site form's and the embed's one path: "thanks", "too_many", "try_later" or "invalid".

    A bot (the honeypot filled in) is answered "thanks" like a person, so it learns nothing.
    """
    if form.is_bot:
        return "thanks"
    try:
        if _rate_limited(request, "subscribe"):
            return "too_many"
    except CacheUnavailable:
        return "try_later"
    if not form.is_valid():
        return "invalid"
    ip, user_agent = _client(request)
    try:
        # Queued, not handled here: every address then costs this request the same
        # work, so the time of the answer cannot tell a suppressed address from a new one.
        services.subscription_request_queue(
            email=form.cleaned_data["email"],
            name=form.cleaned_data["name"],
            list_ids=[item.pk for item in form.cleaned_data["lists"]],
            form=source or form.cleaned_data["source"],
            time_zone=form.cleaned_data["time_zone"],
            ip=ip,
            user_agent=user_agent,
        )
    except TaskQueueUnavailable:
        return "try_later"
    return "thanks"


# No CSRF token: the form sits on cached pages every visitor shares, so it is
# guarded by the browser's own Sec-Fetch-Site / Origin headers instead (core.origin;
# README, "The subscribe form on cached pages").
@same_origin_post
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "subscribers/subscribe.html", {"form": SubscribeForm(auto_id="sub_%s")})
    form = SubscribeForm(request.POST, auto_id="sub_%s")
    outcome = _subscribe_handle(request, form)
    if outcome == "too_many":
        return _too_many(request)
    if outcome == "try_later":
        return _try_later(request, what="nothing", form=form)
    if outcome == "invalid":
        return render(request, "subscribers/subscribe.html", {"form": form}, status=400)
    return redirect("subscribers:thanks")


EMBED_ANSWERS = {
    "thanks": (200, "Almost done: check your inbox and press the button in our email to confirm."),
    "too_many": (429, "Too many attempts from here; please try again in an hour."),
    "try_later": (503, "We could not take your request just now; please try again in a few minutes."),
    "invalid": (400, "Please check the form."),
}


def _embed_json(request: HttpRequest, status: int, body: dict[str, object]) -> HttpResponse:
    response = JsonResponse(body, status=status)
    if status in (429, 503):
        response["Retry-After"] = "3600" if status == 429 else "120"
    return cors_headers(request, response)


# The form other sites embed (README, "Embeddable sign-up form"). No CSRF token on
# another site's page: the browser's Origin header is checked against
# EMBED_ALLOWED_ORIGINS instead, before anything is read or stored.
@csrf_exempt
@never_cache
@require_http_methods(["POST", "OPTIONS"])
def embed_subscribe(request: HttpRequest) -> HttpResponse:
    """A plain form post (answered with our thanks page) or the script's fetch (answered in JSON)."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    if not embed_origin_allowed(request):
        message = "This site may not embed our sign-up form; its origin is not on the list."
        if request.method == "OPTIONS":
            return _embed_json(request, 403, {"ok": False, "error": "origin_not_allowed", "message": message})
        if wants_json:
            refused = _embed_json(request, 403, {"ok": False, "error": "origin_not_allowed", "message": message})
            # Nothing but this fixed refusal is readable, so the script can say why instead of "not reached".
            refused["Access-Control-Allow-Origin"] = request_origin(request) or "null"
            return refused
        raise PermissionDenied(message)
    if request.method == "OPTIONS":
        return cors_headers(request, HttpResponse(status=204))
    form = SubscribeForm(request.POST, auto_id="sub_%s")
    origin = request_origin(request)
    outcome = _subscribe_handle(request, form, source=f"embedded form on {origin}"[:100] if origin else "embedded form")
    if wants_json:
        status, message = EMBED_ANSWERS[outcome]
        body: dict[str, object] = {"ok": outcome == "thanks", "message": message}
        if outcome == "invalid":
            body["errors"] = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        return _embed_json(request, status, body)
    if outcome == "too_many":
        return _too_many(request)
    if outcome == "try_later":
        return _try_later(request, what="nothing", form=form)
    if outcome == "invalid":
        return render(request, "subscribers/subscribe.html", {"form": form}, status=400)
    return redirect("subscribers:thanks")


def subscribe_thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "subscribers/thanks.html")


@never_cache
@require_http_methods(["POST"])
def resend(request: HttpRequest) -> HttpResponse:
    form = ResendForm(request.POST)
    try:
        if _rate_limited(request, "resend"):
            return _too_many(request)
    except CacheUnavailable:
        return _try_later(request, what="nothing", form=form)
    if not form.is_valid():
        return render(request, "subscribers/link_invalid.html", {"form": form, "reason": ""}, status=400)
    try:
        # Queued like the subscribe form, so the answer's time says nothing about the address.
        services.confirmation_resend_queue(email=form.cleaned_data["email"])
    except TaskQueueUnavailable:
        return _try_later(request, what="not_sent", form=_resend_form(form.cleaned_data["email"]))
    return redirect("subscribers:thanks")


# The token in the URL is what authenticates these POSTs, so a CSRF cookie adds
# nothing, and a reader whose browser refuses cookies must still be able to act.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms: mail scanners that open every link must not confirm for a stranger."""
    try:
        subscriber = subscriber_for_token(read_token(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE))
    except InvalidLink as error:
        return render(
            request, "subscribers/link_invalid.html", {"form": ResendForm(), "reason": str(error)}, status=400
        )
    welcome_not_sent = False
    if request.method == "POST" and subscriber.status == SubscriberStatus.PENDING:
        ip, user_agent = _client(request)
        try:
            subscriber = services.subscriber_confirm(subscriber=subscriber, ip=ip, user_agent=user_agent)
        except TaskQueueUnavailable:
            # Confirmed all the same; only the welcome email could not be queued.
            subscriber.refresh_from_db()
            welcome_not_sent = True
    if subscriber.status == SubscriberStatus.PENDING:
        return render(request, "subscribers/confirm.html", {"subscriber": subscriber})
    links = links_for(subscriber_id=subscriber.pk, email=subscriber.email)
    context = {"subscriber": subscriber, "links": links, "welcome_not_sent": welcome_not_sent}
    return render(request, "subscribers/confirmed.html", context)


def _reader(token: str, salt: str) -> Subscriber:
    return subscriber_for_token(read_token(token, salt=salt, max_age=LINK_MAX_AGE))


def _link_gone(request: HttpRequest, error: InvalidLink) -> HttpResponse:
    return render(request, "subscribers/link_gone.html", {"reason": str(error)}, status=400)


def _unsubscribed(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    links = links_for(subscriber_id=subscriber.pk, email=subscriber.email)
    return render(request, "subscribers/unsubscribed.html", {"subscriber": subscriber, "links": links})


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def keep(request: HttpRequest, token: str) -> HttpResponse:
    """The re-engagement email's "keep me subscribed": GET shows a button, POST keeps (as confirm does),
    so that a mail scanner opening every link does not answer for the reader."""
    try:
        subscriber = _reader(token, KEEP_SALT)
    except InvalidLink as error:
        return _link_gone(request, error)
    kept = False
    if request.method == "POST" and subscriber.status in (SubscriberStatus.ACTIVE, SubscriberStatus.INACTIVE):
        ip, user_agent = _client(request)
        subscriber = services.subscriber_keep(subscriber=subscriber, ip=ip, user_agent=user_agent)
        kept = True
    links = links_for(subscriber_id=subscriber.pk, email=subscriber.email)
    context = {"subscriber": subscriber, "links": links, "kept": kept}
    return render(request, "subscribers/keep.html", context)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = _reader(token, PREFERENCES_SALT)
    except InvalidLink as error:
        return _link_gone(request, error)
    current = list(subscriber.lists.all())
    ip, user_agent = _client(request)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "unsubscribe":
        subscriber = services.subscriber_unsubscribe(
            subscriber=subscriber, via="preferences page", ip=ip, user_agent=user_agent
        )
        return _unsubscribed(request, subscriber)
    if action == "resubscribe":
        services.subscriber_resubscribe(subscriber=subscriber, ip=ip, user_agent=user_agent)
        messages.success(request, "Welcome back: you are subscribed again.")
        return redirect("subscribers:preferences", token=token)
    if request.method == "POST":
        form = PreferencesForm(request.POST, current_lists=current)
        if form.is_valid():
            services.subscriber_update_preferences(
                subscriber=subscriber,
                name=form.cleaned_data["name"],
                lists=list(form.cleaned_data["lists"]),
                paused_until=form.cleaned_data["paused_until"],
                time_zone=form.cleaned_data["time_zone"],
                ip=ip,
                user_agent=user_agent,
            )
            messages.success(request, "Your preferences are saved.")
            return redirect("subscribers:preferences", token=token)
    else:
        form = PreferencesForm(
            initial={
                "name": subscriber.name,
                "lists": current,
                "paused_until": subscriber.paused_until,
                "time_zone": subscriber.time_zone,
            },
            current_lists=current,
        )
    context = {"form": form, "subscriber": subscriber, "token": token}
    return render(request, "subscribers/preferences.html", context, status=400 if form.errors else 200)


@never_cache
def download_data(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = _reader(token, PREFERENCES_SALT)
    except InvalidLink as error:
        return _link_gone(request, error)
    data = privacy.subscriber_export_data(subscriber=subscriber)
    response = HttpResponse(json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="my-newsletter-data.json"'
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def erase(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = _reader(token, PREFERENCES_SALT)
    except InvalidLink as error:
        return _link_gone(request, error)
    if request.method == "POST" and request.POST.get("confirm") == "erase":
        privacy.subscriber_erase(subscriber=subscriber)
        return render(request, "subscribers/erased.html")
    return render(request, "subscribers/erase_confirm.html", {"subscriber": subscriber, "token": token})


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = _reader(token, UNSUBSCRIBE_SALT)
    except InvalidLink as error:
        return _link_gone(request, error)
    if request.method == "POST":
        ip, user_agent = _client(request)
        subscriber = services.subscriber_unsubscribe(
            subscriber=subscriber, via="unsubscribe link", ip=ip, user_agent=user_agent
        )
        return _unsubscribed(request, subscriber)
    context = {"subscriber": subscriber, "action": reverse("subscribers:unsubscribe", kwargs={"token": token})}
    return render(request, "subscribers/unsubscribe_confirm.html", context)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def one_click(request: HttpRequest, token: str) -> HttpResponse:
    """RFC 8058: a mail client POSTs ``List-Unsubscribe=One-Click`` with no cookie; a GET never unsubscribes."""
    if request.method != "POST":
        return unsubscribe(request, token)
    try:
        subscriber = _reader(token, UNSUBSCRIBE_SALT)
    except InvalidLink:
        return HttpResponseBadRequest("This unsubscribe link is not valid.", content_type="text/plain")
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return HttpResponseBadRequest("Expected List-Unsubscribe=One-Click.", content_type="text/plain")
    ip, user_agent = _client(request)
    services.subscriber_unsubscribe(subscriber=subscriber, via="one-click (RFC 8058)", ip=ip, user_agent=user_agent)
    return HttpResponse("You are unsubscribed.", content_type="text/plain")
