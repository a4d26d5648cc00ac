"""core.auth.OneQueryModelBackend: Django's permission rules, one query."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User

pytestmark = pytest.mark.django_db


def _perm(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


def test_a_user_has_their_own_and_their_groups_permissions_read_in_one_query(
    django_assert_num_queries: Any,
) -> None:
    user = User.objects.create_user("writer")
    user.user_permissions.add(_perm("add_issue"))
    group = Group.objects.create(name="Desk")
    group.permissions.add(_perm("change_issue"), _perm("add_issue"))
    user.groups.add(group)
    user = User.objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        assert user.has_perm("issues.add_issue") and user.has_perm("issues.change_issue")
        assert not user.has_perm("issues.approve_issue")
    assert user.get_all_permissions() == {"issues.add_issue", "issues.change_issue"}
    assert user.get_group_permissions() == {"issues.add_issue", "issues.change_issue"}  # Django's own, kept


def test_an_inactive_user_has_none_and_a_superuser_has_all() -> None:
    inactive = User.objects.create_user("gone", is_active=False)
    inactive.user_permissions.add(_perm("add_issue"))
    assert not User.objects.get(pk=inactive.pk).has_perm("issues.add_issue")
    boss = User.objects.create_superuser("boss", "boss@example.com", "x")
    assert len(boss.get_all_permissions()) == Permission.objects.count()
