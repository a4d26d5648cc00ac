"""The admin home and sidebar lead to the analytics pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _sidebar(html: str) -> str:
    return html[html.index('id="nav-sidebar"') :]


def test_an_editor_finds_analytics_on_the_admin_home(editor) -> None:
    client = _client(editor)
    html = client.get(reverse("admin:index")).content.decode()
    index, audience = reverse("delivery_analytics:index"), reverse("delivery_analytics:audience")
    assert f'<a href="{index}" class="section"' in html
    assert f'<a href="{index}">Sends and engagement</a>' in html
    assert f'<a href="{audience}">Audience over time</a>' in html
    assert client.get(index).status_code == 200 and client.get(audience).status_code == 200


def test_an_editor_finds_analytics_in_the_sidebar_of_other_admin_pages(editor) -> None:
    html = _client(editor).get(reverse("admin:issues_issue_changelist")).content.decode()
    assert f'<a href="{reverse("delivery_analytics:index")}">Sends and engagement</a>' in _sidebar(html)


def test_the_analytics_page_marks_its_entry_in_the_sidebar_as_current(editor) -> None:
    html = _client(editor).get(reverse("delivery_analytics:index")).content.decode()
    assert f'<a href="{reverse("delivery_analytics:index")}" aria-current="page">' in _sidebar(html)


def test_someone_without_permission_to_view_sends_sees_no_analytics_entry(contributor) -> None:
    client = _client(contributor)
    for url in (reverse("admin:index"), reverse("admin:issues_issue_changelist")):
        response = client.get(url)
        assert response.status_code == 200 and "Issues" in response.content.decode()
        assert reverse("delivery_analytics:index") not in response.content.decode()


def test_an_app_page_lists_only_its_own_models(editor) -> None:
    html = _client(editor).get(reverse("admin:app_list", args=["issues"])).content.decode()
    content = html[html.index('id="content-main"') :]
    assert "Sends and engagement" not in content


def test_the_admin_carries_the_publications_name(client, editor, settings):
    settings.PUBLISHER_NAME = "The Morning Byte"
    client.force_login(editor)
    page = client.get("/admin/").content.decode()
    assert "The Morning Byte · Newsroom" in page
    assert "Django administration" not in page
