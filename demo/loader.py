"""Demo content for `make run`: accounts, lists, site pages, readers and two issues.

:func:`demo_load` is idempotent. Everything is looked up by a natural key
(username, slug, email) before it is created, so a second run adds nothing;
objects an editor has changed since are left as they are. The generated
passwords live in ``var/demo-credentials.txt`` (mode 0600) and are printed by
the ``load_demo`` command on every run.
"""

from __future__ import annotations

import io
import os
import random
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape
from django.utils.text import slugify

from api.keys import api_key_create, key_hash
from api.models import ApiKey
from api.scopes import Scope
from core.sanitize import sanitize_inline
from demo import content
from demo.back_issues import BACK_ISSUES
from demo.engagement import engagement_ensure, sunset_ensure
from demo.masthead import publication_ensure
from issues.drafts import issue_template_save
from issues.models import Author, Issue, IssueStatus, IssueTemplate, Section, SectionItem, Tag
from issues.services import issue_refresh_stats, issue_save, issue_transition
from newsroom.groups import groups_ensure
from newsroom.models import NavLink, SitePage
from newsroom.selectors import site_cache_clear
from outbound.models import EVENT_CHOICES, WebhookEndpoint
from subscribers.models import (
    Consent,
    CustomField,
    FieldOperator,
    MailingList,
    Segment,
    Subscriber,
    SubscriberSource,
    SubscriberStatus,
)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    # False when someone changed the password after the demo set it.
    password_valid: bool = True


@dataclass
class DemoReport:
    accounts: list[DemoAccount]
    credentials_path: Path
    created: list[str] = field(default_factory=list)
    # The demo editor's API key (every scope), kept in the credentials file with the passwords.
    api_key: str = ""


# username, first name, last name, group (None = superuser), email
ACCOUNTS = [
    ("admin", "Ada", "Admin", None, "admin@example.com"),
    ("editor", "Edith", "Editor", "Editors", "editor@example.com"),
    ("contributor", "Carl", "Contributor", "Contributors", "contributor@example.com"),
]
# `make run` starts a receiver for it (manage.py demo_webhook_receiver, Procfile.dev).
DEMO_WEBHOOK_PORT = int(os.environ.get("DEMO_WEBHOOK_PORT") or 8025)
DEMO_WEBHOOK_URL = f"http://127.0.0.1:{DEMO_WEBHOOK_PORT}/newsroom"
ROLES = {None: "superuser", "Editors": "Editors group", "Contributors": "Contributors group"}


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.txt"


def _read_credentials(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#"):
            found[parts[0]] = parts[1]
    return found


def _write_credentials(path: Path, passwords: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Newsroom demo accounts, made by `python manage.py load_demo`. Local use only.", "# username password"]
    lines += [f"{username} {password}" for username, password in passwords.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    path.chmod(0o600)


def accounts_ensure(*, path: Path) -> tuple[list[DemoAccount], list[str]]:
    """Create the admin, editor and contributor accounts, or keep the existing ones.

    A password is generated the first time an account is seen without a
    stored one; it is set on the user and written to ``path``.
    """
    stored = _read_credentials(path)
    passwords = dict(stored)
    with transaction.atomic():
        accounts, created = _accounts_apply(stored, passwords)
    # Written after the commit: a failed run leaves no password on disk that
    # the database does not know.
    if passwords != stored or not path.exists():
        _write_credentials(path, passwords)
    return accounts, created


def _accounts_apply(stored: dict[str, str], passwords: dict[str, str]) -> tuple[list[DemoAccount], list[str]]:
    groups_ensure()
    accounts, created = [], []
    for username, first, last, group_name, email in ACCOUNTS:
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": email, "is_staff": True},
        )
        if was_created:
            created.append(f"user {username}")
        if group_name is None and not (user.is_superuser and user.is_staff):
            user.is_superuser = user.is_staff = True
            user.save(update_fields=["is_superuser", "is_staff"])
        if group_name is not None:
            user.groups.add(Group.objects.get(name=group_name))
        if username not in stored:
            passwords[username] = secrets.token_urlsafe(12)
        if was_created or username not in stored:
            user.set_password(passwords[username])
            user.save(update_fields=["password"])
        Author.objects.get_or_create(user=user, defaults={"name": f"{first} {last}", "slug": slugify(username)})
        accounts.append(
            DemoAccount(username, passwords[username], ROLES[group_name], user.check_password(passwords[username]))
        )
    return accounts, created


API_KEY_ENTRY = "api-key"
DEMO_KEY_NAME = "Demo key (load_demo)"


def api_key_ensure(*, path: Path) -> tuple[str, list[str]]:
    """The demo editor's API key with every scope: the stored one while it still works, else a new one.

    Only its hash is in the database, as for any key; the key itself is kept in
    the credentials file (0600) so that ``load_demo`` can print it every time."""
    stored = _read_credentials(path)
    secret = stored.get(API_KEY_ENTRY, "")
    usable = ApiKey.objects.filter(key_hash=key_hash(secret), revoked_at=None, expires_at=None) if secret else None
    if usable is not None and usable.exists():
        return secret, []
    editor = User.objects.get(username="editor")
    # A demo key whose secret was lost with the file can never be used again: retire it.
    ApiKey.objects.filter(name=DEMO_KEY_NAME, created_by=editor, revoked_at=None).update(revoked_at=timezone.now())
    made = api_key_create(name=DEMO_KEY_NAME, scopes=list(Scope.values), expires_at=None, acting_user=editor)
    _write_credentials(path, {**stored, API_KEY_ENTRY: made.secret})
    return made.secret, [f"API key {made.api_key.prefix}… for editor"]


def site_ensure() -> list[str]:
    """Mailing lists, footer and navigation pages, header links."""
    created = []
    for data in content.MAILING_LISTS:
        _, new = MailingList.objects.get_or_create(slug=data["slug"], defaults=data)
        if new:
            created.append(f"list {data['name']}")
    for data in content.SITE_PAGES:
        _, new = SitePage.objects.get_or_create(slug=data["slug"], defaults=data)
        if new:
            created.append(f"page {data['title']}")
    # Navigation is loaded once: an editor who rearranges it keeps their choice.
    if not NavLink.objects.exists():
        NavLink.objects.bulk_create(
            NavLink(label=label, url=url, position=n) for n, (label, url) in enumerate(content.NAV_LINKS)
        )
        created.append(f"{len(content.NAV_LINKS)} navigation links")
    site_cache_clear()
    return created


def subscribers_ensure() -> list[str]:
    created = []
    for data in content.CUSTOM_FIELDS:
        _, new = CustomField.objects.get_or_create(key=data["key"], defaults=data)
        if new:
            created.append(f"custom field {data['label']}")
    lists = {ml.slug: ml for ml in MailingList.objects.all()}
    now = timezone.now()
    for data in content.SUBSCRIBERS:
        if Subscriber.objects.filter(email__iexact=data["email"]).exists():
            # A demo database from before readers had time zones gets theirs.
            Subscriber.objects.filter(email__iexact=data["email"], time_zone="").update(
                time_zone=data.get("time_zone", "")
            )
            continue
        active = data["status"] == SubscriberStatus.ACTIVE
        subscriber = Subscriber.objects.create(
            email=data["email"],
            name=data["name"],
            status=data["status"],
            source=SubscriberSource.ADMIN,
            confirmed_at=now - timedelta(days=10) if active else None,
            confirmation_sent_at=now - timedelta(days=10, minutes=5),
            attributes=data.get("attributes", {}),
            time_zone=data.get("time_zone", ""),
        )
        subscriber.lists.add(*(lists[slug] for slug in data["lists"] if slug in lists))
        Consent.objects.create(
            subscriber=subscriber,
            action=Consent.Action.IMPORT,
            form="load_demo",
            text="Demo reader added by the demo loader; not a real person.",
        )
        created.append(f"{data['status']} reader {data['email']}")
    plan = CustomField.objects.filter(key="plan").first()
    if plan is not None and not Segment.objects.filter(name=content.SUPPORTERS_SEGMENT).exists():
        Segment.objects.create(
            name=content.SUPPORTERS_SEGMENT, field=plan, field_operator=FieldOperator.EQUALS, field_value="Supporter"
        )
        created.append(f"segment {content.SUPPORTERS_SEGMENT!r}")
    return created


def cover_image_png(*, title: str, seed: int) -> bytes:
    """An original 1200 by 630 pixel cover: a diagonal gradient, a few shapes and the title."""
    from PIL import Image, ImageDraw, ImageFont

    palettes = [((14, 30, 84), (46, 110, 196), (255, 214, 102)), ((196, 72, 28), (246, 166, 60), (255, 247, 230))]
    top, bottom, accent = palettes[seed % len(palettes)]
    width, height = 1200, 630
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / (height - 1)
        colour = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (width, y)], fill=colour)
    rng = random.Random(seed)  # the same picture on every machine
    if seed % 2 == 0:
        draw.ellipse((820, 120, 1060, 360), outline=accent, width=10)
        for _ in range(14):
            x, y, r = rng.randint(720, 1160), rng.randint(60, 460), rng.randint(8, 26)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=accent)
    else:
        for n in range(6):
            bar_h = 60 + n * 55
            draw.rectangle((760 + n * 70, 470 - bar_h, 810 + n * 70, 470), fill=accent)
        draw.rounded_rectangle((980, 60, 1100, 160), radius=18, outline=accent, width=10)
    font = ImageFont.load_default(size=64)
    small = ImageFont.load_default(size=30)
    words, lines, line = title.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) > 620 and line:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    y = 470 - 76 * len(lines)
    for text in lines:
        draw.text((64, y), text, font=font, fill=(255, 255, 255))
        y += 76
    draw.text((64, 540), settings.PUBLISHER_NAME, font=small, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _cover_ensure(issue: Issue, seed: int) -> None:
    if issue.cover_image.name and issue.cover_image.storage.exists(issue.cover_image.name):
        return
    png = cover_image_png(title=issue.title, seed=seed)
    issue.cover_image.save(f"{issue.slug}.png", ContentFile(png), save=False)
    issue.save(update_fields=["cover_image"])


def _sections_create(issue: Issue, sections: list[dict[str, Any]]) -> None:
    for position, data in enumerate(sections):
        section = Section(issue=issue, position=position, **{k: v for k, v in data.items() if k != "items"})
        section.full_clean()  # the same sanitiser and link checks as the admin
        section.save()
        SectionItem.objects.bulk_create(
            SectionItem(section=section, position=n, **item_fields(item)) for n, item in enumerate(data["items"])
        )


def item_fields(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the composer stores it: a quick link's ``link_words`` become a link on those words."""
    fields = {k: v for k, v in item.items() if k != "link_words"}
    words = item.get("link_words")
    if words:
        before, _, after = fields["text"].partition(words)
        link = f'<a href="{escape(fields["url"])}">{escape(words)}</a>'
        fields["text"] = sanitize_inline(f"{escape(before)}{link}{escape(after)}")
    return fields


def _history(issue: Issue, target: str, users: dict[str, User]) -> None:
    """Walk the issue through the workflow to ``target`` as the people who would."""
    steps: list[tuple[str, User | None]] = [
        (IssueStatus.REVIEW, users["contributor"]),
        (IssueStatus.APPROVED, users["editor"]),
    ]
    if target == IssueStatus.SENT:
        # Scheduling runs the pre-send checks, so the demo proves it passes them.
        steps += [(IssueStatus.SCHEDULED, users["editor"]), (IssueStatus.SENDING, None), (IssueStatus.SENT, None)]
    for to_status, actor in steps:
        issue_transition(issue=issue, to_status=to_status, acting_user=actor, note="Demo content")


def _issue_create(data: dict[str, Any], seed: int, users: dict[str, User]) -> Issue:
    days_ago = data["days_ago"]
    publish_date = None
    if days_ago is not None:
        publish_date = (timezone.now() - timedelta(days=days_ago)).replace(hour=6, minute=0, second=0, microsecond=0)
    fields = ("title", "slug", "number", "subject", "preheader", "summary", "canonical_url", "cover_alt")
    issue = Issue(publish_date=publish_date, **{name: data[name] for name in fields})
    with transaction.atomic():
        issue = issue_save(issue=issue, acting_user=users["contributor"], comment="Demo content")
        issue.authors.add(*Author.objects.filter(user__username__in=["contributor", "editor"]))
        for name in data["tags"]:
            tag, _ = Tag.objects.get_or_create(slug=slugify(name), defaults={"name": name})
            issue.tags.add(tag)
        _sections_create(issue, data["sections"])
        if data.get("cover", True):
            _cover_ensure(issue, seed)
        issue = issue_refresh_stats(issue=issue)
        _history(issue, IssueStatus.SENT if days_ago is not None else IssueStatus.APPROVED, users)
    return issue


def issues_ensure() -> list[str]:
    users = {u.username: u for u in User.objects.filter(username__in=["admin", "editor", "contributor"])}
    created = []
    for seed, data in enumerate([*content.ISSUES, *BACK_ISSUES]):
        issue = Issue.objects.filter(slug=data["slug"]).first()
        if issue is None:
            issue = _issue_create(data, seed, users)
            created.append(f"issue {issue.title!r} ({issue.get_status_display().lower()})")
        if data.get("cover", True):
            _cover_ensure(issue, seed)
    return created


def avatar_png(*, initials: str, seed: int) -> bytes:
    """A round portrait stand-in: initials on a colour of their own (160 x 160)."""
    from PIL import Image, ImageDraw, ImageFont

    size = 160
    colours = [(29, 78, 216), (180, 83, 9), (4, 120, 87), (126, 34, 206)]
    image = Image.new("RGB", (size, size), colours[seed % len(colours)])
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=64)
    draw.text((size / 2, size / 2), initials, font=font, fill=(255, 255, 255), anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def avatars_ensure() -> list[str]:
    """A portrait for each demo author who has none (an editor may have uploaded one)."""
    created = []
    for seed, author in enumerate(Author.objects.order_by("slug")):
        if author.avatar.name:
            continue
        initials = "".join(word[0] for word in author.name.split()[:2]).upper()
        author.avatar.save(f"{author.slug}.png", ContentFile(avatar_png(initials=initials, seed=seed)), save=True)
        created.append(f"avatar of {author.name}")
    return created


def templates_ensure() -> list[str]:
    """The issue template of the reference shape, saved by the editor through the service."""
    name = content.DAILY_TEMPLATE["name"]
    if IssueTemplate.objects.filter(name=name).exists():
        return []
    data = content.DAILY_TEMPLATE
    template = IssueTemplate(name=name, shape=data["shape"], subject=data["subject"], preheader=data["preheader"])
    issue_template_save(
        template=template,
        acting_user=User.objects.get(username="editor"),
        comment="Demo content",
        authors=list(Author.objects.filter(user__username__in=data["authors"])),
    )
    return [f"issue template {name!r}"]


def sequences_ensure() -> list[str]:
    """The welcome sequence and the demo's series (automations), once."""
    import datetime

    from automations.models import Sequence, Step
    from automations.services import step_versions_sync, welcome_sequence_ensure
    from automations.sunset import sunset_sequence_ensure

    created = []
    if not Sequence.objects.filter(replaces_welcome=True).exists():
        created.append(f"sequence {welcome_sequence_ensure().name}")
    if not Sequence.objects.filter(trigger="sunset").exists():
        created.append(f"sequence {sunset_sequence_ensure().name}")
    for data in content.SEQUENCES:
        if Sequence.objects.filter(name=data["name"]).exists():
            continue
        sequence = Sequence.objects.create(
            name=data["name"], trigger="list_confirmed", trigger_list=MailingList.objects.get(slug=data["list"])
        )
        for position, step in enumerate(data["steps"]):
            at = step.get("send_at")
            Step.objects.create(
                sequence=sequence,
                position=position,
                subject=step["subject"],
                preheader=step["preheader"],
                body=step["body"],
                delay_value=step["delay"][0],
                delay_unit=step["delay"][1],
                send_at=datetime.time.fromisoformat(at) if at else None,
            )
        step_versions_sync(sequence=sequence)
        created.append(f"sequence {sequence.name}")
    return created


def sending_limits_ensure() -> list[str]:
    """Limits for the demo's provider, so the send page shows a limit in force and an operator
    finds them under Delivery, Sending limits (the demo's sends still take seconds)."""
    from delivery.models import SendingLimit

    _, made = SendingLimit.objects.get_or_create(
        provider=settings.EMAIL_PROVIDER, defaults={"per_second": 20, "per_hour": 20_000, "max_batch": 50}
    )
    return [f"sending limits for {settings.EMAIL_PROVIDER} (20/second)"] if made else []


def webhooks_ensure() -> list[str]:
    """An outgoing webhook endpoint for every event, pointing at the demo receiver."""
    if WebhookEndpoint.objects.filter(url=DEMO_WEBHOOK_URL).exists():
        return []
    WebhookEndpoint.objects.create(
        url=DEMO_WEBHOOK_URL,
        description="Demo receiver (prints each event in the make run log)",
        events=[value for value, _label in EVENT_CHOICES],
    )
    return ["webhook endpoint for the demo receiver"]


def demo_load() -> DemoReport:
    """Load (or keep) every piece of demo content; returns what it made this time."""
    path = credentials_path()
    accounts, created = accounts_ensure(path=path)
    api_key, made = api_key_ensure(path=path)
    created += made
    with transaction.atomic():
        created += site_ensure()
        created += subscribers_ensure()
        created += sequences_ensure()
        created += webhooks_ensure()
    created += publication_ensure()
    created += avatars_ensure()
    created += issues_ensure()
    created += templates_ensure()
    created += engagement_ensure()
    created += sunset_ensure()
    created += sending_limits_ensure()
    return DemoReport(accounts=accounts, credentials_path=path, created=created, api_key=api_key)
