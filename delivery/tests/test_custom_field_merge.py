"""Custom-field merge tags in an issue: each reader's copy carries their own value, or the
fallback, escaped in HTML; the web page shows the fallback."""

from __future__ import annotations

from typing import Any

import pytest

from core.merge import field_tags_fallback, field_tags_place, field_values, mailgun_tag
from core.models import OutboxMessage
from delivery import pipeline, services
from issues.models import IssueStatus, SectionKind
from issues.rendering import render_web_sections
from subscribers.models import CustomField, FieldKind
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db
LINE = "<p>Weather for {{ city|your town }}: sunny. Member: {{ member }}.</p>"


def test_tags_become_one_variable_per_field_and_fallback() -> None:
    found: dict[str, tuple[str, str]] = {}
    text = field_tags_place("{{ city|here }} / {{ city|there }} / {{city}}", tag=mailgun_tag, found=found)
    assert len(found) == 3 and sorted(found.values()) == [("city", ""), ("city", "here"), ("city", "there")]
    assert "{{" not in text and text.count("%recipient.cf_city_") == 3
    values = field_values(found, {"city": "Leeds"})
    assert set(values.values()) == {"Leeds"}
    assert set(field_values(found, {}).values()) == {"here", "there", ""}
    assert field_tags_fallback("In {{ city|your town }} today") == "In your town today"


def test_each_reader_gets_their_own_value_or_the_fallback(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_PROVIDER = "outbox"
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"
    CustomField.objects.create(key="city", label="City", kind=FieldKind.TEXT)
    CustomField.objects.create(key="member", label="Member", kind=FieldKind.BOOLEAN)
    daily = MailingListFactory.create(name="Daily")
    leeds = SubscriberFactory.create(lists=[daily], email="leeds@example.org")
    leeds.attributes = {"city": "Leeds & Bradford", "member": True}
    leeds.save()
    SubscriberFactory.create(lists=[daily], email="nowhere@example.org")
    issue = make_full_issue(status=IssueStatus.APPROVED)
    lead = issue.sections.filter(kind=SectionKind.LEAD).order_by("position").first()
    lead.body = LINE
    lead.save()
    services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor())
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.sends_start_due()
    leeds_copy = OutboxMessage.objects.get(to="leeds@example.org")
    assert "Weather for Leeds &amp; Bradford: sunny. Member: yes." in leeds_copy.html_body
    assert "Weather for Leeds & Bradford: sunny." in leeds_copy.text_body
    other = OutboxMessage.objects.get(to="nowhere@example.org")
    assert "Weather for your town: sunny. Member: ." in other.html_body
    assert "{{" not in other.html_body + other.text_body
    assert "Weather for your town: sunny." in str(render_web_sections(issue))
