"""The re-engagement sequence of the lists' sunset policies, editable in the admin.

It starts only from a list's sunset policy (off by default, automations.sunset); editors
may view who the policies asked (SunsetNotice)."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

NAME = "Re-engagement (sunset policy)"
SUBJECT = "Do you still want {publisher} in your inbox?"
PREHEADER = "One click keeps your subscription; otherwise we will stop sending for now."
BODY = (
    "<p>Our last few issues of {publisher} have gone unopened, so we would like to check in "
    "before sending you more.</p>"
    "<p>If you still want them, press the button below and nothing changes. If we do not hear from you, "
    "we will stop sending to this address in a couple of weeks. You can come back whenever you like "
    "from the subscribe form or your preferences page.</p>"
)


def create_sequence(apps, schema_editor):
    Sequence = apps.get_model("automations", "Sequence")
    Step = apps.get_model("automations", "Step")
    StepVersion = apps.get_model("automations", "StepVersion")
    if Sequence.objects.filter(trigger="sunset").exists():
        return
    name = NAME if not Sequence.objects.filter(name=NAME).exists() else f"{NAME} (built in)"
    sequence = Sequence.objects.create(name=name, trigger="sunset", allow_reentry=True)
    publisher = settings.PUBLISHER_NAME
    subject, body = SUBJECT.format(publisher=publisher), BODY.format(publisher=publisher)
    step = Step.objects.create(
        sequence=sequence, position=0, subject=subject, preheader=PREHEADER, body=body, delay_value=0, delay_unit="minutes"
    )
    version = StepVersion.objects.create(
        step=step, number=1, subject=subject, preheader=PREHEADER, body=body, created_at=timezone.now()
    )
    Step.objects.filter(pk=step.pk).update(current_version=version)


def editors_may_view(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("automations")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    editors = Group.objects.filter(name="Editors").first()
    if editors is not None:
        editors.permissions.add(
            *Permission.objects.filter(content_type__app_label="automations", codename="view_sunsetnotice")
        )


class Migration(migrations.Migration):
    dependencies = [("automations", "0003_sunset_policy")]

    operations = [
        migrations.RunPython(create_sequence, migrations.RunPython.noop),
        migrations.RunPython(editors_may_view, migrations.RunPython.noop),
    ]
