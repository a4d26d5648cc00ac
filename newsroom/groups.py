"""The two editorial groups and their permissions, in one place.

The migration newsroom/0002 creates them; ``groups_ensure`` re-applies the
same definitions (demo loader, tests that flush the database).
"""

from __future__ import annotations

from typing import Any

CONTRIBUTOR_PERMS = [
    ("issues", "add_issue"),
    ("issues", "change_issue"),
    ("issues", "view_issue"),
    ("issues", "submit_issue"),
    ("issues", "add_section"),
    ("issues", "change_section"),
    ("issues", "delete_section"),
    ("issues", "view_section"),
    ("issues", "add_sectionitem"),
    ("issues", "change_sectionitem"),
    ("issues", "delete_sectionitem"),
    ("issues", "view_sectionitem"),
    ("issues", "view_author"),
    ("issues", "view_tag"),
    ("issues", "add_tag"),
    ("issues", "view_issuetransition"),
    ("issues", "view_previewsend"),
    ("issues", "add_previewsend"),
    # Contributors start drafts from templates; editors make and change them.
    ("issues", "view_issuetemplate"),
]
EDITOR_APPS = ["issues", "subscribers", "delivery", "automations", "api", "newsroom", "reversion"]


def apply_groups(group_model: Any, permission_model: Any) -> None:
    contributors, _ = group_model.objects.get_or_create(name="Contributors")
    editors, _ = group_model.objects.get_or_create(name="Editors")
    for app_label, codename in CONTRIBUTOR_PERMS:
        perm = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if perm is not None:
            contributors.permissions.add(perm)
    editors.permissions.add(*permission_model.objects.filter(content_type__app_label__in=EDITOR_APPS))


def groups_ensure() -> None:
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    apply_groups(Group, Permission)
