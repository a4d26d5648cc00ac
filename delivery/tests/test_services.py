import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import override_settings

from delivery import pipeline, services
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from issues.models import IssueStatus
from subscribers.models import SubscriberStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_full_issue, make_pending_reader

pytestmark = pytest.mark.django_db


def _approved_issue():
    return make_full_issue(status=IssueStatus.APPROVED)


def test_it_refuses_an_issue_that_is_not_approved(editor):
    issue = make_full_issue(status=IssueStatus.DRAFT)
    news = MailingListFactory.create()
    SubscriberFactory.create(lists=[news])
    with pytest.raises(ValidationError, match="approved"):
        services.send_create(issue=issue, lists=[news], segment=None, at=None, acting_user=editor)


def test_it_refuses_an_empty_audience(editor):
    news = MailingListFactory.create()
    make_pending_reader(lists=[news])
    with pytest.raises(ValidationError, match="no readers"):
        services.send_create(issue=_approved_issue(), lists=[news], segment=None, at=None, acting_user=editor)


@override_settings(NEWSROOM_BATCH_SIZE=2)
def test_it_sends_each_sendable_reader_once_and_finishes(editor, celery_eager, django_capture_on_commit_callbacks):
    news, tech = MailingListFactory.create(), MailingListFactory.create()
    both = SubscriberFactory.create(lists=[news, tech])
    others = [SubscriberFactory.create(lists=[news]) for _ in range(3)]
    SubscriberFactory.create(lists=[news], status=SubscriberStatus.UNSUBSCRIBED)
    make_pending_reader(lists=[news])
    issue = _approved_issue()
    send = services.send_create(issue=issue, lists=[news, tech], segment=None, at=None, acting_user=editor)
    with pytest.raises(ValidationError, match="already"):
        services.send_create(issue=issue, lists=[tech, news], segment=None, at=None, acting_user=editor)

    with django_capture_on_commit_callbacks(execute=True):
        pipeline.sends_start_due()

    send.refresh_from_db()
    issue.refresh_from_db()
    assert send.status == SendStatus.DONE
    assert send.total == 4
    assert issue.status == IssueStatus.SENT
    sent = Delivery.objects.filter(send=send, status=DeliveryStatus.SENT)
    assert sorted(sent.values_list("subscriber_id", flat=True)) == sorted(r.pk for r in [both, *others])
    recipients: list[str] = [address for message in mail.outbox for address in message.to]
    assert sorted(recipients) == sorted(r.email for r in [both, *others])
    assert Send.objects.filter(pk=send.pk, deliveries__batch=1).exists()
