"""Give the Editors group its rights on the publication's masthead (newsroom.groups)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from newsroom.groups import apply_groups


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    apply_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [
        ("newsroom", "0005_issuetemplate_permissions"),
        ("issues", "0008_publication_masthead_issue_number"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
