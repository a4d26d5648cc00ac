"""The local development outbox: each email kept instead of sent."""

from django.db import models


class OutboxMessage(models.Model):
    """One email as the recipient would have received it, kept instead of sent
    when ANYMAIL_PROVIDER=outbox (the default on a laptop)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    subject = models.CharField(max_length=998)
    from_email = models.CharField(max_length=320)
    to = models.CharField(max_length=320, db_index=True)
    text_body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=200, blank=True)

    class Meta:
        # The table keeps the name it had when the model lived in the newsroom app.
        db_table = "newsroom_outboxmessage"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"
