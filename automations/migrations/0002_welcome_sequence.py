"""The welcome email becomes step 1 of a "Welcome" sequence, editable in the admin.

From here on a reader who confirms enters the sequence and gets its first step
instead of the built-in welcome email (never both: see subscribers.hooks)."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

WELCOME_BODY = (
    "<p>Your subscription to {publisher} is confirmed. The next issue will be in your inbox.</p>"
    "<p>You can choose your newsletters or pause them at any time with the preferences link below.</p>"
)


def create_welcome(apps, schema_editor):
    Sequence = apps.get_model("automations", "Sequence")
    Step = apps.get_model("automations", "Step")
    StepVersion = apps.get_model("automations", "StepVersion")
    if Sequence.objects.filter(replaces_welcome=True).exists():
        return
    name = "Welcome"
    if Sequence.objects.filter(name=name).exists():
        name = "Welcome (built in)"
    sequence = Sequence.objects.create(name=name, trigger="list_confirmed", replaces_welcome=True)
    subject = f"Welcome to {settings.PUBLISHER_NAME}"
    body = WELCOME_BODY.format(publisher=settings.PUBLISHER_NAME)
    step = Step.objects.create(sequence=sequence, position=0, subject=subject, body=body, delay_value=0, delay_unit="minutes")
    version = StepVersion.objects.create(step=step, number=1, subject=subject, body=body, created_at=timezone.now())
    Step.objects.filter(pk=step.pk).update(current_version=version)


def editors_may_edit(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("automations")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    editors = Group.objects.filter(name="Editors").first()
    if editors is not None:
        editors.permissions.add(*Permission.objects.filter(content_type__app_label="automations"))


class Migration(migrations.Migration):
    dependencies = [
        ("automations", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("newsroom", "0002_groups"),
    ]

    operations = [
        migrations.RunPython(create_welcome, migrations.RunPython.noop),
        migrations.RunPython(editors_may_edit, migrations.RunPython.noop),
    ]
