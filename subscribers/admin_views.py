"""Admin pages for the CSV import: upload, preview and confirm, then the report on the ImportJob page."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import mark_safe

from core.queue import TaskQueueUnavailable
from subscribers import importer
from subscribers.models import ConsentBasis, ImportJob, ImportStatus, MailingList, Subscriber
from subscribers.services import CONSENT_TEXT

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="A CSV saved as “CSV UTF-8” (UTF-16 with a byte-order mark is read too), separated by commas, "
        "semicolons or tabs, with a header row: “email” (required), “name”, “lists” and “tags” "
        "(several separated by “;”).",
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 50 MB; split it in parts.")
        return upload


class ConfirmForm(forms.Form):
    consent_basis = forms.ChoiceField(
        label="Why may we email these readers?",
        choices=[("", "— choose —"), *ConsentBasis.choices],
        help_text="Only a stated basis makes imported readers active; without one they are stored as pending.",
    )
    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Add every imported reader to",
    )


def _context(request: HttpRequest, title: str, **extra: object) -> dict[str, object]:
    return {**admin.site.each_context(request), "title": title, "opts": Subscriber._meta, **extra}


def _check(request: HttpRequest) -> None:
    if not request.user.has_perm("subscribers.add_subscriber"):
        raise PermissionDenied("You may not import readers.")


def import_upload(request: HttpRequest) -> HttpResponse:
    _check(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job, _columns, _preview, _count = importer.import_job_create(
                uploaded=form.cleaned_data["file"], acting_user=request.user
            )
        except importer.ImportFileError as error:
            form.add_error("file", error.messages[0])
        else:
            return redirect("admin:subscribers_subscriber_import_confirm", pk=job.pk)
    return TemplateResponse(
        request, "admin/subscribers/import_upload.html", _context(request, "Import readers from CSV", form=form)
    )


def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    _check(request)
    job = get_object_or_404(ImportJob, pk=pk)
    if job.status != ImportStatus.UPLOADED:
        return redirect("admin:subscribers_importjob_change", job.pk)
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            importer.import_job_queue(
                job=job, consent_basis=form.cleaned_data["consent_basis"], lists=list(form.cleaned_data["lists"])
            )
        except TaskQueueUnavailable:
            messages.error(
                request,
                "Import not started: the task queue could not be reached. Press Import again in a minute; "
                "if it keeps failing, the queue (Redis) needs attention.",
            )
            return redirect("admin:subscribers_subscriber_import_confirm", pk=job.pk)
        return redirect("admin:subscribers_importjob_change", job.pk)
    try:
        columns, preview, count = importer.import_job_preview(job=job)
    except importer.ImportFileError as error:
        messages.error(request, error.messages[0])
        return redirect("admin:subscribers_subscriber_import")
    layout = importer.file_layout(columns)
    ignored = [c for c in columns if c not in layout.used_columns]
    context = _context(
        request,
        f"Import {job.filename}: check and confirm",
        job=job,
        form=form,
        columns=columns,
        preview=preview,
        count=count,
        ignored=ignored,
        platform=layout.platform.label,
        custom_columns=sorted(layout.custom),
    )
    return TemplateResponse(request, "admin/subscribers/import_confirm.html", context)


class EmbedForm(forms.Form):
    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.filter(public=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Lists the form subscribes to",
        help_text="None ticked: the reader is subscribed to no list in particular (every issue sent to all readers).",
    )
    choose = forms.BooleanField(
        required=False, label="Let readers choose among these lists (checkboxes) instead of subscribing them to all"
    )


def embed_builder(request: HttpRequest) -> HttpResponse:
    """The "Embed a sign-up form" page: pick lists, copy the snippet (HTML, or HTML and script)."""
    if not request.user.has_perm("subscribers.view_subscriber"):
        raise PermissionDenied("You may not see the sign-up form settings.")
    form = EmbedForm(request.GET or None)
    lists = list(form.cleaned_data["lists"]) if form.is_valid() else []
    choose = bool(form.is_valid() and form.cleaned_data["choose"])
    site = settings.SITE_URL.rstrip("/")
    values = {
        "action": site + reverse("subscribers:embed_subscribe"),
        "script_url": site + static("subscribers/embed.js"),
        "lists": lists,
        "choose": choose,
        "consent_text": CONSENT_TEXT,
    }
    snippet_html = render_to_string("subscribers/embed/snippet.html", {**values, "script": False})
    snippet_script = render_to_string("subscribers/embed/snippet.html", {**values, "script": True})
    context = _context(
        request,
        "Embed a sign-up form",
        form=form,
        origins=settings.EMBED_ALLOWED_ORIGINS,
        snippet_html=snippet_html,
        snippet_script=snippet_script,
        # Our own snippet, with the lists' names escaped by the template: safe to show as it is.
        preview=mark_safe(snippet_script),
    )
    return TemplateResponse(request, "admin/subscribers/embed.html", context)
