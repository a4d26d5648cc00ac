"""RSS and Atom feeds of the public issues."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from issues.models import Issue
from issues.selectors import absolute_url, public_issues

FEED_LENGTH = 20


class IssuesRssFeed(Feed):
    """The latest public issues. Links are absolute on SITE_URL, so the feed
    says the same whichever host name it was fetched through."""

    description_template = None

    def title(self) -> str:
        return settings.PUBLISHER_NAME

    def description(self) -> str:
        return f"The latest issues of {settings.PUBLISHER_NAME}."

    def link(self) -> str:
        return absolute_url(reverse("issues:archive"))

    def feed_url(self) -> str:
        return absolute_url(reverse("issues:feed-rss"))

    def items(self) -> QuerySet[Issue]:
        return public_issues().prefetch_related("tags", "authors")[:FEED_LENGTH]

    def item_title(self, item: Issue) -> str:
        return item.title

    def item_description(self, item: Issue) -> str:
        return item.summary

    def item_link(self, item: Issue) -> str:
        return absolute_url(item.get_absolute_url())

    def item_guid(self, item: Issue) -> str:
        return absolute_url(item.get_absolute_url())

    def item_pubdate(self, item: Issue) -> datetime:
        return item.shown_at  # type: ignore[attr-defined, no-any-return]

    def item_updateddate(self, item: Issue) -> datetime:
        return item.updated_at

    def item_categories(self, item: Issue) -> list[str]:
        return [tag.name for tag in item.tags.all()]

    def item_author_name(self, item: Issue) -> str:
        return ", ".join(a.name for a in item.authors.all()) or settings.PUBLISHER_NAME

    def get_object(self, request: HttpRequest, *args: object, **kwargs: object) -> None:
        return None


class IssuesAtomFeed(IssuesRssFeed):
    feed_type = Atom1Feed

    def subtitle(self) -> str:
        return self.description()

    def feed_url(self) -> str:
        return absolute_url(reverse("issues:feed-atom"))
