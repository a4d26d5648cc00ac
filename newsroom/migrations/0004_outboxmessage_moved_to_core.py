"""OutboxMessage now belongs to core (core/migrations/0001_initial.py); its
table is kept, so this only forgets the model here."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("newsroom", "0003_navlink_url_validation"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="OutboxMessage")],
            database_operations=[],
        ),
    ]
