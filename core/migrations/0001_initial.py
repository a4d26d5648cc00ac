"""OutboxMessage moves from the newsroom app to core: the table stays as it
is (db_table keeps its old name), only Django's record of who owns it changes."""

from django.db import migrations, models


def _move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="core", model="outboxmessage").exists():
        ContentType.objects.filter(app_label="newsroom", model="outboxmessage").update(app_label="core")


def _move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="newsroom", model="outboxmessage").exists():
        ContentType.objects.filter(app_label="core", model="outboxmessage").update(app_label="newsroom")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("newsroom", "0003_navlink_url_validation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboxMessage",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("subject", models.CharField(max_length=998)),
                        ("from_email", models.CharField(max_length=320)),
                        ("to", models.CharField(db_index=True, max_length=320)),
                        ("text_body", models.TextField(blank=True)),
                        ("html_body", models.TextField(blank=True)),
                        ("headers", models.JSONField(blank=True, default=dict)),
                        ("metadata", models.JSONField(blank=True, default=dict)),
                        ("message_id", models.CharField(blank=True, max_length=200)),
                    ],
                    options={"db_table": "newsroom_outboxmessage", "ordering": ["-created_at", "-id"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(_move_content_type, _move_content_type_back),
    ]
