"""Admin pages for an issue beyond the change form: workflow moves, preview
and test sends. Thin: they parse input and call issues.services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST
from django_ckeditor_5.storage_utils import get_django_storage

from issues import drafts, selectors, services
from issues.checks import presend_checks
from issues.emails import merge_sample, sample_merge_values
from issues.forms import IssueFromTemplateForm, TemplateFromIssueForm, TestSendForm, TransitionForm
from issues.hooks import issue_open_send
from issues.models import Issue, IssueStatus
from issues.rendering import render_email
from issues.views import issue_context

# Labels of the workflow buttons, by target status.
BUTTON_LABELS: dict[str, str] = {
    IssueStatus.REVIEW: "Submit for review",
    IssueStatus.DRAFT: "Back to draft",
    IssueStatus.APPROVED: "Approve",
}
# Scheduling (and everything after it) goes through a Send in the delivery
# admin, which picks the audience and the time.
EDITORIAL_TARGETS = frozenset(BUTTON_LABELS)


def _issue(request: HttpRequest, model_admin: Any, object_id: int) -> Issue:
    issue = Issue.objects.filter(pk=object_id).first()
    if issue is None:
        raise Http404("No such issue.")
    if not model_admin.has_view_or_change_permission(request, issue):
        raise PermissionDenied("You may not see this issue.")
    return issue


def _change_url(issue: Issue) -> str:
    return reverse("admin:issues_issue_change", args=[issue.pk])


def public_url(issue: Issue) -> str:
    try:
        return issue.get_absolute_url()
    except NoReverseMatch:
        return ""


def edit_notice_context(issue: Issue) -> dict[str, Any]:
    """What the issue and section pages say about editing the issue now: read-only
    while a send is planned or running (with the send to cancel), and that
    corrections to a sent issue reach the web archive only."""
    send = None
    if issue.status in services.LOCKED_STATUSES:
        send = issue_open_send(issue)
    return {"edit_notice_issue": issue, "edit_notice_send": send}


def refuse_locked_edit(request: HttpRequest, issue: Issue | None, *, back_to: str) -> HttpResponse | None:
    """A POST that would change a scheduled or sending issue (a stale page or a
    crafted request): nothing is saved, the editor is told why."""
    if request.method != "POST" or issue is None or issue.status not in services.LOCKED_STATUSES:
        return None
    problem = services.edit_refusal(request.user, issue)
    messages.error(request, f"Nothing was saved. {problem}")
    return HttpResponseRedirect(back_to)


def panel_context(request: HttpRequest, issue: Issue) -> dict[str, Any]:
    """What the issue change page shows above the form."""
    checks = presend_checks(issue)
    targets = services.allowed_targets(issue=issue, user=request.user)
    # Scheduling happens with a Send (delivery admin), not with a bare button.
    buttons = [(t, BUTTON_LABELS[t]) for t in targets if t in EDITORIAL_TARGETS]
    return {
        "workflow_buttons": buttons,
        "check_errors": [c for c in checks if c.level == "error"],
        "check_warnings": [c for c in checks if c.level == "warning"],
        "transitions": issue.transitions.select_related("actor")[:20],
        "preview_sends": issue.preview_sends.select_related("requested_by")[:10],
        "test_send_form": TestSendForm(),
        "may_test_send": request.user.has_perm("issues.add_previewsend"),
        "public_url": public_url(issue),
        **edit_notice_context(issue),
    }


@require_POST
def transition(request: HttpRequest, *, model_admin: Any, object_id: int) -> HttpResponse:
    issue = _issue(request, model_admin, object_id)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a status to move the issue to.")
        return HttpResponseRedirect(_change_url(issue))
    target = form.cleaned_data["to_status"]
    if target not in EDITORIAL_TARGETS:
        # Refuse people without the right as the service would (403), and
        # tell editors where scheduling happens.
        services.transition_permission_check(issue=issue, to_status=target, user=request.user)
        messages.error(
            request,
            "To schedule this issue, create a send for it with “Schedule a send…” on this page.",
        )
        return HttpResponseRedirect(_change_url(issue))
    try:
        services.issue_transition(
            issue=issue, to_status=target, acting_user=request.user, note=form.cleaned_data["note"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"“{issue}” is now {IssueStatus(target).label.lower()}.")
    return HttpResponseRedirect(_change_url(issue))


def duplicate_made(request: HttpRequest, model_admin: Any, source: Issue) -> Issue:
    """Duplicate ``source`` for the person asking, with the admin's log entry and message."""
    copy = drafts.issue_duplicate(issue=source, acting_user=request.user)
    model_admin.log_addition(request, copy, f"Duplicated from “{source}”.")
    return copy


@require_POST
def duplicate(request: HttpRequest, *, model_admin: Any, object_id: int) -> HttpResponse:
    source = _issue(request, model_admin, object_id)
    copy = duplicate_made(request, model_admin, source)
    messages.success(request, f"“{copy}” is a new draft copied from “{source}”: edit it here.")
    return HttpResponseRedirect(_change_url(copy))


def _form_page(request: HttpRequest, model_admin: Any, form: Any, *, title: str, submit: str, **extra: Any) -> Any:
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Issue._meta,
        "title": title,
        "form": form,
        "submit_label": submit,
        **extra,
    }
    return render(request, "admin/issues/issue/form_page.html", context)


def _service_errors(form: Any, exc: ValidationError) -> None:
    # Errors keyed by a field the form does not have are shown above it.
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def save_as_template(request: HttpRequest, *, model_admin: Any, object_id: int) -> HttpResponse:
    issue = _issue(request, model_admin, object_id)
    if not request.user.has_perm("issues.add_issuetemplate"):
        raise PermissionDenied("Only editors may save issue templates.")
    form = TemplateFromIssueForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = drafts.issue_template_create(
                issue=issue, name=form.cleaned_data["name"], keep_items=form.cleaned_data["keep_items"],
                acting_user=request.user,
            )  # fmt: skip
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, f"Saved the template “{template}” from “{issue}”.")
            return HttpResponseRedirect(reverse("admin:issues_issuetemplate_change", args=[template.pk]))
    title = f"Save “{issue}” as a template"
    intro = (
        "The template keeps this issue's subject, preheader, authors and tags, and its sections in order with "
        "each one's kind, heading and fixed labels (sponsor label, partner, link label). Each day's texts and "
        "links are left out. You can change all of it on the template's page afterwards."
    )
    return _form_page(request, model_admin, form, title=title, submit="Save template", original=issue, intro=intro)


def from_template(request: HttpRequest, *, model_admin: Any) -> HttpResponse:
    if not (model_admin.has_add_permission(request) and request.user.has_perm("issues.view_issuetemplate")):
        raise PermissionDenied("You may not start issues from templates.")
    form = IssueFromTemplateForm(request.POST or None, initial={"template": request.GET.get("template")})
    if request.method == "POST" and form.is_valid():
        try:
            issue = drafts.issue_create_from_template(
                template=form.cleaned_data["template"], title=form.cleaned_data["title"], acting_user=request.user
            )
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            model_admin.log_addition(request, issue, f"Started from the template “{form.cleaned_data['template']}”.")
            messages.success(request, f"“{issue}” is a new draft from the template: write its sections here.")
            return HttpResponseRedirect(_change_url(issue))
    return _form_page(request, model_admin, form, title="New issue from a template", submit="Create draft")


@require_POST
def test_send(request: HttpRequest, *, model_admin: Any, object_id: int) -> HttpResponse:
    issue = _issue(request, model_admin, object_id)
    form = TestSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Test send not queued: " + " ".join(str(e) for e in form.errors["recipients"]))
        return HttpResponseRedirect(_change_url(issue) + "#test-send")
    recipients = form.cleaned_data["recipients"]
    try:
        services.preview_send_create(issue=issue, recipients=recipients, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, "Test send not queued: " + " ".join(exc.messages))
    except services.TaskQueueUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Test send queued to {', '.join(recipients)}.")
    return HttpResponseRedirect(_change_url(issue) + "#test-send")


def preview(request: HttpRequest, *, model_admin: Any, object_id: int) -> HttpResponse:
    issue = _issue(request, model_admin, object_id)
    email = render_email(issue)
    values = sample_merge_values(issue)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Issue._meta,
        "original": issue,
        "title": f"Preview: {issue}",
        # The frames need the full width of the window.
        "is_nav_sidebar_enabled": False,
        "subject": email.subject,
        "preheader": email.preheader,
        "text": merge_sample(email.text, values),
        "html_kb": len(merge_sample(email.html, values).encode()) / 1024,
        "public_url": public_url(issue),
        "change_url": _change_url(issue),
    }
    return render(request, "admin/issues/issue/preview.html", context)


@xframe_options_sameorigin
def preview_email(request: HttpRequest, *, model_admin: Any, object_id: int) -> HttpResponse:
    issue = _issue(request, model_admin, object_id)
    html = merge_sample(render_email(issue).html, sample_merge_values(issue))
    return HttpResponse(html)


@xframe_options_sameorigin
def preview_web(request: HttpRequest, *, model_admin: Any, object_id: int) -> HttpResponse:
    # The same queryset and context as the public page: the frame shows what readers will see.
    issue = selectors.issue_for_preview(_issue(request, model_admin, object_id).slug)
    if issue is None:
        raise Http404("No such issue.")
    article_html = render_to_string("issues/_issue_article.html", issue_context(issue))
    return render(request, "admin/issues/issue/preview_web.html", {"issue": issue, "article_html": article_html})


@require_POST
def ckeditor_upload(request: HttpRequest) -> HttpResponse:
    """CKEditor 5 image upload, answering every refusal with a message the
    editor sees in the editor (CKEditor shows ``error.message``)."""
    if not (request.user.is_authenticated and request.user.is_staff):
        return JsonResponse({"error": {"message": "Sign in to the admin to upload images."}}, status=403)
    upload = request.FILES.get("upload")
    if upload is None:
        return JsonResponse({"error": {"message": "No file was received; choose an image to upload."}}, status=400)
    try:
        # The storage checks the file and names it; the client's name is only
        # used in the message.
        name = get_django_storage().save(None, upload)
    except ValidationError as exc:
        return JsonResponse({"error": {"message": f"{upload.name}: {' '.join(exc.messages)}"}}, status=400)
    return JsonResponse({"url": get_django_storage().url(name)})
