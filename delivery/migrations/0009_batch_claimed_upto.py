from django.db import migrations, models
from django.db.models import Max
from django.utils import timezone


def claims_onto_batches(apps, schema_editor):
    """Rows left claimed one by one (before this release) become the claim of their batch:
    queued again, the batch saying how far the claim went. A batch without a status to say
    whether its provider call had begun counts as posting, so its readers become uncertain
    rather than sent twice."""
    Delivery = apps.get_model("delivery", "Delivery")
    Batch = apps.get_model("delivery", "Batch")
    now = timezone.now()
    claimed = Delivery.objects.filter(status="claimed")
    for group in claimed.values("send_id", "batch").annotate(upto=Max("id")):
        send_id, number, upto = group["send_id"], group["batch"], group["upto"]
        batch = Batch.objects.filter(send_id=send_id, number=number).first()
        if batch is None:
            batch = Batch(send_id=send_id, number=number, enqueued_at=now, due_at=now)
        if batch.status not in ("claimed", "posting"):
            batch.status = "posting"
        batch.claimed_upto = upto
        batch.save()
    claimed.update(status="queued")


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0008_sendinglimit_provider_mailersend_postal_scaleway_mailtrap"),
    ]

    operations = [
        migrations.AddField(
            model_name="batch",
            name="claimed_upto",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(claims_onto_batches, migrations.RunPython.noop),
    ]
