from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from subscribers.models import Segment, Subscriber

pytestmark = pytest.mark.django_db


def test_the_database_refuses_an_address_that_differs_only_in_case() -> None:
    Subscriber.objects.create(email="Ada@example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscriber.objects.create(email="ada@EXAMPLE.org")
    assert Subscriber.objects.count() == 1


def test_the_database_refuses_an_unknown_status() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscriber.objects.create(email="odd@example.org", status="sending")
    with pytest.raises(IntegrityError), transaction.atomic():
        Segment.objects.create(name="Odd", status="sending")
    assert not Subscriber.objects.exists() and not Segment.objects.exists()
