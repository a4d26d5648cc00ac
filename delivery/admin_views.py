"""Admin pages for sends beyond Django's own: create a send from an issue, the live
audience count, the progress JSON and the control buttons. Thin: they parse input
and call delivery.services or delivery.selectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.ids import parse_id
from delivery import selectors, services
from delivery.forms import AudienceForm, RescheduleForm, ResendConfirmForm, SendCreateForm, publication_tz
from delivery.models import Send, SendStatus
from issues.checks import blocking_errors
from issues.models import Issue

PROBLEMS_PER_PAGE = 50


def _refusal(exc: ValidationError | PermissionDenied) -> list[str]:
    if isinstance(exc, ValidationError):
        return list(exc.messages)
    return [str(exc) or "You may not do this."]


def _change_url(send: Send) -> str:
    return reverse("admin:delivery_send_change", args=[send.pk])


def _send(request: HttpRequest, model_admin: Any, object_id: int) -> Send:
    send = Send.objects.select_related("issue", "segment").filter(pk=object_id).first()
    if send is None:
        raise Http404("No such send.")
    if not model_admin.has_view_permission(request, send):
        raise PermissionDenied("You may not see this send.")
    return send


# --- Creating a send ---------------------------------------------------------


def _chosen_issue(request: HttpRequest, form: SendCreateForm) -> Issue | None:
    raw = request.POST.get("issue") if form.is_bound else request.GET.get("issue")
    issue_id = parse_id(raw)
    return None if issue_id is None else Issue.objects.filter(pk=issue_id).first()


def _create(request: HttpRequest, form: SendCreateForm) -> Send | None:
    data = form.cleaned_data
    try:
        return services.send_create(
            issue=data["issue"],
            lists=data["lists"],
            segment=data["segment"],
            at=data["at"],
            acting_user=request.user,
            track_clicks=data["track_clicks"],
            track_opens=data["track_opens"],
            window=data["window"],
            local=data["local"],
        )
    except (ValidationError, PermissionDenied) as exc:
        for text in _refusal(exc):
            form.add_error(None, text)
        return None


def _created_message(send: Send) -> str:
    if send.local_time is not None and send.local_date is not None:
        start = send.scheduled_at.astimezone(publication_tz())
        return (
            f"“{send.issue}” goes out at {send.local_time:%H:%M} on {send.local_date:%d %b %Y} in each reader's "
            f"time zone; the first zone starts {start:%d %b %Y %H:%M} ({publication_tz().key}). "
            "Zones already past that time when it starts get it at once."
        )
    if send.scheduled_at <= send.created_at:
        return f"“{send.issue}” is sending now: follow its progress below."
    local = send.scheduled_at.astimezone(publication_tz())
    return f"“{send.issue}” is scheduled for {local:%d %b %Y %H:%M} ({publication_tz().key})."


def send_add(request: HttpRequest, *, model_admin: Any) -> HttpResponse:
    if not model_admin.has_add_permission(request):
        raise PermissionDenied("You may not create sends.")
    form = SendCreateForm(request.POST or None)
    issue = _chosen_issue(request, form)
    if not form.is_bound and issue is not None:
        form.initial["issue"] = issue.pk
    if form.is_bound and form.is_valid():
        send = _create(request, form)
        if send is not None:
            model_admin.log_addition(request, send, _created_message(send))
            messages.success(request, _created_message(send))
            return HttpResponseRedirect(_change_url(send))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Send._meta,
        "title": f"Send “{issue}”" if issue else "Send an issue",
        "form": form,
        "issue": issue,
        "check_errors": blocking_errors(issue) if issue else [],
        "time_zone": publication_tz().key,
        "audience_count_url": reverse("admin:delivery_send_audience_count"),
    }
    return render(request, "admin/delivery/send/add.html", context)


@require_GET
def audience_count(request: HttpRequest, *, model_admin: Any) -> JsonResponse:
    if not model_admin.has_add_permission(request):
        return JsonResponse({"error": "You may not create sends."}, status=403)
    form = AudienceForm(request.GET)
    if not form.is_valid():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        return JsonResponse({"error": " ".join(errors)}, status=400)
    count = selectors.audience_count(lists=form.cleaned_data["lists"], segment=form.cleaned_data["segment"])
    return JsonResponse({"count": count})


# --- Watching and steering a send --------------------------------------------


@require_GET
def progress(request: HttpRequest, *, model_admin: Any, object_id: int) -> JsonResponse:
    return JsonResponse(selectors.send_progress(send=_send(request, model_admin, object_id)))


def _pause(request: HttpRequest, send: Send) -> str:
    services.send_pause(send=send, acting_user=request.user)
    return "Paused. Workers stop within seconds, after the batch they are sending."


def _resume(request: HttpRequest, send: Send) -> str:
    services.send_resume(send=send, acting_user=request.user)
    return "Resumed."


def _cancel(request: HttpRequest, send: Send) -> str:
    services.send_cancel(send=send, acting_user=request.user)
    return "Cancelled. Readers not reached yet will not get this send."


def _reschedule(request: HttpRequest, send: Send) -> str:
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        raise ValidationError([str(error) for errors in form.errors.values() for error in errors])
    services.send_reschedule(send=send, at=form.cleaned_data["at"], acting_user=request.user)
    send.refresh_from_db()
    local = send.scheduled_at.astimezone(publication_tz())
    return f"Rescheduled for {local:%d %b %Y %H:%M} ({publication_tz().key})."


def _retry_failed(request: HttpRequest, send: Send) -> str:
    count = services.send_retry_failed(send=send, acting_user=request.user)
    if not count:
        raise ValidationError("No failed reader to retry: each already has this issue or may have it.")
    return f"Sending again to {count} failed reader{'s' if count != 1 else ''}."


def _mark_sent(request: HttpRequest, send: Send) -> str:
    count = services.send_mark_uncertain(send=send, acting_user=request.user, as_sent=True)
    if not count:
        raise ValidationError("No uncertain reader is left to mark.")
    return f"{count} uncertain reader{'s' if count != 1 else ''} marked as sent."


def _resend_uncertain(request: HttpRequest, send: Send) -> str:
    form = ResendConfirmForm(request.POST)
    if not form.is_valid():
        raise ValidationError(list(form.errors["confirm_duplicates"]))
    count = services.send_mark_uncertain(send=send, acting_user=request.user, as_sent=False)
    if not count:
        raise ValidationError("No uncertain reader to send again: each already has this issue or may have it.")
    return f"Sending again to {count} uncertain reader{'s' if count != 1 else ''}."


CONTROLS: dict[str, Callable[[HttpRequest, Send], str]] = {
    "pause": _pause,
    "resume": _resume,
    "cancel": _cancel,
    "reschedule": _reschedule,
    "retry_failed": _retry_failed,
    "mark_sent": _mark_sent,
    "resend_uncertain": _resend_uncertain,
}


@require_POST
def control(request: HttpRequest, *, model_admin: Any, object_id: int) -> HttpResponse:
    send = _send(request, model_admin, object_id)
    action = CONTROLS.get(request.POST.get("action", ""))
    if action is None:
        messages.error(request, "Unknown action.")
        return HttpResponseRedirect(_change_url(send))
    try:
        text = action(request, send)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(_refusal(exc)))
    else:
        # The send's History page then says who paused, cancelled or retried it, and when.
        model_admin.log_change(request, send, text)
        messages.success(request, text)
    return HttpResponseRedirect(_change_url(send))


def _local_parts(send: Send) -> dict[str, str]:
    local = send.scheduled_at.astimezone(publication_tz())
    return {"date": f"{local:%Y-%m-%d}", "time": f"{local:%H:%M}"}


def panel_context(request: HttpRequest, send: Send) -> dict[str, Any]:
    """What the send's page shows above and below its read-only fields."""
    problems = Paginator(selectors.send_problem_rows(send=send), PROBLEMS_PER_PAGE)
    scheduled = send.status == SendStatus.SCHEDULED
    return {
        "progress": selectors.send_progress(send=send),
        "progress_url": reverse("admin:delivery_send_progress", args=[send.pk]),
        "control_url": reverse("admin:delivery_send_control", args=[send.pk]),
        "may_control": request.user.has_perm("issues.schedule_issue"),
        "problems": problems.get_page(request.GET.get("problems")),
        "audience_now": selectors.audience_count(lists=send.lists.all(), segment=send.segment) if scheduled else None,
        "time_zone": publication_tz().key,
        # The Reschedule control starts from the current time, on the publication's clock.
        "scheduled_local": _local_parts(send) if scheduled else None,
    }
