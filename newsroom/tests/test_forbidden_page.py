"""A refusal is a page in the frame the person was in, with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_contributor_refused_in_the_admin_sees_the_admin_frame_and_the_reason(
    client: Client, contributor: Any
) -> None:
    client.force_login(contributor)
    response = client.get("/admin/analytics/")
    page = response.content.decode()
    assert response.status_code == 403
    assert 'id="header"' in page and 'class="breadcrumbs"' in page  # the admin's header and breadcrumbs
    assert "You need permission to view sends to see analytics." in page


def test_a_refusal_outside_the_admin_is_in_the_site_frame(client: Client) -> None:
    from django.core.exceptions import PermissionDenied
    from django.test import RequestFactory

    from newsroom.views import permission_denied

    request = RequestFactory().get("/somewhere/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403 and "Not allowed" in response.content.decode()
