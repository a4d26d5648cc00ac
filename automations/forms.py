"""The sequence page's checks: what an editor gets wrong gets a clear error, and nothing is saved."""

from __future__ import annotations

from typing import Any

from adminsortable2.admin import CustomInlineFormSet
from django import forms
from django.core.exceptions import ValidationError

from automations.models import Sequence, Step, Trigger
from core.sanitize import sanitize_html


class SequenceForm(forms.ModelForm):
    class Meta:
        model = Sequence
        fields = ["name", "trigger", "trigger_list", "trigger_tag", "trigger_segment", "allow_reentry", "pause_policy"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("trigger")
        if not isinstance(field, forms.ChoiceField):
            return
        if self.instance.pk is not None and self.instance.trigger == Trigger.SUNSET:
            # The re-engagement sequence of the sunset policies: the lists start it, nothing else.
            field.choices = [(Trigger.SUNSET.value, Trigger.SUNSET.label)]
            field.disabled = True
        else:
            field.choices = [(t.value, t.label) for t in Trigger if t != Trigger.SUNSET]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        trigger = str(data.get("trigger") or "")
        needed: dict[str, str] = {Trigger.TAG_ADDED: "trigger_tag", Trigger.SEGMENT_JOINED: "trigger_segment"}
        for kind, field in needed.items():
            if trigger == kind and not data.get(field) and field not in self.errors:
                self.add_error(field, "Choose which one starts the sequence.")
        # Only the chosen trigger's field is kept, so the stored sequence is never ambiguous.
        fields: dict[str, str] = {Trigger.LIST_CONFIRMED: "trigger_list", **needed}
        keep = fields.get(trigger, "")
        for field in ("trigger_list", "trigger_tag", "trigger_segment"):
            if field != keep:
                data[field] = None
        return data


class StepForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = ["position", "subject", "preheader", "body", "delay_value", "delay_unit", "send_at", "add_tag"]
        error_messages = {"delay_value": {"min_value": "The delay cannot be negative."}}
        widgets = {"send_at": forms.TimeInput(format="%H:%M", attrs={"placeholder": "HH:MM", "size": 6})}

    def clean_body(self) -> str:
        return sanitize_html(self.cleaned_data.get("body") or "")


class StepFormSet(CustomInlineFormSet):
    """At least one step, and no step that adds a tag starting this sequence again (a loop)."""

    def clean(self) -> None:
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not kept and not any(f.errors for f in self.forms):
            raise ValidationError("A sequence needs at least one step.")
        trigger_tag = _trigger_tag(self.instance, self.data)
        for form in kept:
            tag = form.cleaned_data.get("add_tag")
            if tag is not None and trigger_tag is not None and tag.pk == trigger_tag:
                raise ValidationError(
                    f"The step “{form.cleaned_data.get('subject')}” adds the tag “{tag}”, which starts this "
                    "sequence: every reader would enter it again and again. Choose another tag."
                )
        loop = _loop_through_others(
            self.instance, trigger_tag, {f.cleaned_data["add_tag"].pk for f in kept if f.cleaned_data.get("add_tag")}
        )
        if loop:
            raise ValidationError(
                "These steps would start a loop through other sequences: " + " → ".join(loop) + ". Choose another tag."
            )


def _trigger_tag(instance: Sequence, data: Any) -> int | None:
    """The trigger tag as the form being saved says (the parent form's data), else as stored."""
    trigger = data.get("trigger") if data else None
    if trigger is not None:
        value = data.get("trigger_tag") if trigger == Trigger.TAG_ADDED else None
        return int(value) if value and str(value).isdigit() else None
    return instance.trigger_tag_id if instance.trigger == Trigger.TAG_ADDED else None


def _loop_through_others(instance: Sequence, trigger_tag: int | None, adds: set[int]) -> list[str]:
    """Names of sequences on a path from this one's added tags back to its trigger tag, if any."""
    if trigger_tag is None or not adds:
        return []
    others = Sequence.objects.filter(trigger=Trigger.TAG_ADDED).exclude(pk=instance.pk)
    edges: dict[int, tuple[str, set[int]]] = {}
    for seq in others.prefetch_related("steps"):
        edges[seq.trigger_tag_id or 0] = (seq.name, {s.add_tag_id for s in seq.steps.all() if s.add_tag_id})
    path: list[str] = []
    seen: set[int] = set()

    def walk(tags: set[int]) -> bool:
        for tag in tags:
            if tag == trigger_tag:
                return True
            if tag in seen or tag not in edges:
                continue
            seen.add(tag)
            name, more = edges[tag]
            path.append(name)
            if walk(more):
                return True
            path.pop()
        return False

    return [instance.name or "this sequence", *path, instance.name or "this sequence"] if walk(adds) else []
