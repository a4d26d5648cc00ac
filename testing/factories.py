"""Factories and personas shared by every app's tests."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone
from django.utils.text import slugify

from delivery.models import Send
from issues.models import Issue, IssueStatus, Section, SectionItem, SectionKind
from newsroom.groups import groups_ensure
from subscribers.models import MailingList, Subscriber, SubscriberStatus

PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@newsroom.test")
    is_staff = True

    @factory.post_generation
    def password(self: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


def make_editor(username: str = "edith") -> User:
    groups_ensure()
    user = UserFactory.create(username=username, first_name="Edith", last_name="Editor")
    user.groups.add(Group.objects.get(name="Editors"))
    return user


def make_contributor(username: str = "carl") -> User:
    groups_ensure()
    user = UserFactory.create(username=username, first_name="Carl", last_name="Contributor")
    user.groups.add(Group.objects.get(name="Contributors"))
    return user


class IssueFactory(factory.django.DjangoModelFactory[Issue]):
    class Meta:
        model = Issue

    title = factory.Sequence(lambda n: f"Machines that read the news, part {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.title)[:100])
    preheader = "Three stories, one tool and eight quick links."
    summary = "A short summary of the day's stories."
    cover_alt = "An abstract illustration of a newsroom"
    status = IssueStatus.DRAFT


class SectionFactory(factory.django.DjangoModelFactory[Section]):
    class Meta:
        model = Section

    issue = factory.SubFactory(IssueFactory)
    kind = SectionKind.LEAD
    position = factory.Sequence(lambda n: n)
    heading = factory.Sequence(lambda n: f"Story {n}")
    body = "<p>An opening paragraph.</p>"


class SectionItemFactory(factory.django.DjangoModelFactory[SectionItem]):
    class Meta:
        model = SectionItem

    section = factory.SubFactory(SectionFactory)
    position = factory.Sequence(lambda n: n)
    text = factory.Sequence(lambda n: f"Item number {n}.")


def make_full_issue(**kwargs: Any) -> Issue:
    """An issue of the reference shape: three leads, a highlight, a tool and eight quick links."""
    issue = IssueFactory.create(**kwargs)
    pos = 0
    for n in range(1, 4):
        lead = SectionFactory(
            issue=issue,
            kind=SectionKind.LEAD,
            position=pos,
            heading=f"Lead story {n}: a lab ships a model",
            body=f"<p>Opening paragraph of lead story {n}.</p>",
            analysis=f"<p>Why lead story {n} matters for readers.</p>",
            link_url=f"https://example.com/story-{n}",
        )
        for b in range(3):
            SectionItemFactory(section=lead, position=b, label=f"Label {b}", text=f"Detail sentence {b}.")
        pos += 1
    SectionFactory(
        issue=issue,
        kind=SectionKind.HIGHLIGHT,
        position=pos,
        heading="A partner's new course",
        partner_name="Partner Co",
        body="<p>Partner body.</p>",
        link_url="https://partner.example.com/",
        link_label="Join free",
    )
    tool = SectionFactory(
        issue=issue,
        kind=SectionKind.TOOL,
        position=pos + 1,
        heading="Summariser",
        body="<p>Summarises long documents.</p>",
        link_url="https://tool.example.com/",
    )
    for s in range(3):
        SectionItemFactory(section=tool, position=s, text=f"Step {s + 1}.")
    links = SectionFactory(issue=issue, kind=SectionKind.QUICK_LINKS, position=pos + 2, heading="Light Bytes", body="")
    for q in range(8):
        SectionItemFactory(section=links, position=q, text=f"Quick item {q}.", url=f"https://news.example.com/{q}")
    return issue


class MailingListFactory(factory.django.DjangoModelFactory[MailingList]):
    class Meta:
        model = MailingList
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"List {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class SubscriberFactory(factory.django.DjangoModelFactory[Subscriber]):
    class Meta:
        model = Subscriber
        skip_postgeneration_save = True  # adding lists needs no second save

    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    name = factory.Sequence(lambda n: f"Reader {n}")
    status = SubscriberStatus.ACTIVE
    confirmed_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def lists(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.lists.add(*extracted)


def make_confirmed_reader(**kwargs: Any) -> Subscriber:
    return SubscriberFactory.create(status=SubscriberStatus.ACTIVE, **kwargs)


def make_pending_reader(**kwargs: Any) -> Subscriber:
    return SubscriberFactory.create(status=SubscriberStatus.PENDING, confirmed_at=None, **kwargs)


class SendFactory(factory.django.DjangoModelFactory[Send]):
    class Meta:
        model = Send

    issue = factory.SubFactory(IssueFactory, status=IssueStatus.APPROVED)
    scheduled_at = factory.LazyFunction(timezone.now)
