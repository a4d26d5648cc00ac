"""API keys, the log of every request made with one, and stored answers to retried POSTs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiKey(models.Model):
    """A secret a program sends as ``Authorization: Bearer <key>``.

    Only the SHA-256 of the key is stored; the key itself is shown once, when it
    is made (api.services.api_key_create). It acts as ``created_by``: every write
    checks that person's permissions as the admin would, so a key can do no more
    than its maker, and stops working if the maker's account is deactivated.
    """

    name = models.CharField(max_length=100, help_text="What uses this key (for example “CRM sync”).")
    prefix = models.CharField(max_length=16, unique=True, editable=False, help_text="The key's first characters.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="What the key may do.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: the key does not expire.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def state(self) -> str:
        """What the admin shows: active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class ApiRequest(models.Model):
    """One request made with a key (refused ones included); pruned after API_REQUEST_LOG_DAYS."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="requests")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["api_key", "-at"], name="apirequest_key_at")]
        verbose_name = "API request"

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class IdempotentRequest(models.Model):
    """A POST sent with an ``Idempotency-Key``: its fingerprint and, once it succeeded, its answer.

    ``status`` 0 means the first request is still running. Kept for
    API_IDEMPOTENCY_HOURS; a retry within that time gets the stored answer.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body.")
    status = models.PositiveSmallIntegerField(default=0)
    body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotentrequest_once_per_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status or 'running'})"
