"""The service the admin's add form saves through."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from subscribers.admin_services import subscriber_add
from subscribers.models import Consent, Subscriber, SubscriberSource, SubscriberStatus

pytestmark = pytest.mark.django_db


def test_an_editor_adds_an_active_reader_who_counts_as_confirmed_with_a_consent_naming_them(editor: Any) -> None:
    reader = subscriber_add(
        subscriber=Subscriber(email="new@example.org", status=SubscriberStatus.ACTIVE), acting_user=editor
    )
    stored = Subscriber.objects.get(pk=reader.pk)
    assert stored.source == SubscriberSource.ADMIN and stored.confirmed_at is not None
    consent = stored.consents.get()
    assert consent.action == Consent.Action.ADMIN and consent.form == f"admin: {editor.get_username()}"


def test_a_user_without_the_add_permission_is_refused_and_nothing_is_stored(contributor: Any) -> None:
    with pytest.raises(PermissionDenied):
        subscriber_add(subscriber=Subscriber(email="no@example.org"), acting_user=contributor)
    assert not Subscriber.objects.filter(email="no@example.org").exists()
