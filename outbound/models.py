"""Outgoing webhooks: endpoints a publisher points at their own systems, one row per
event to each endpoint, and one row per attempt to deliver it."""

from __future__ import annotations

import base64
import secrets

from django.db import models

from core.events import EventName

EVENT_CHOICES = [(name.value, name.value) for name in EventName]


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class EndpointStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled (by an editor)"
    FAILING = "failing", "Disabled: kept failing"


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=500, help_text="Where events are POSTed (https:// in production).")
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event names this endpoint receives.")
    secret = models.CharField(max_length=80, default=new_secret, help_text="Signs every request (Standard Webhooks).")
    status = models.CharField(max_length=16, choices=EndpointStatus.choices, default=EndpointStatus.ACTIVE)
    disabled_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0, help_text="Failed attempts since the last success.")
    failing_since = models.DateTimeField(null=True, blank=True, help_text="First failure since the last success.")
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=EndpointStatus.values), name="webhookendpoint_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.description or self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its first attempt or its next retry
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"  # every attempt of the schedule failed


class WebhookDelivery(models.Model):
    """One event for one endpoint. ``event_id`` is the ``webhook-id`` header: the same
    on every attempt, so a receiver that saw it already can ignore it."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40, choices=EVENT_CHOICES)
    payload = models.JSONField(help_text="The event's data.")
    # Deliveries with the same key go out one after another, in order (e.g. one reader's events).
    ordering_key = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts in the current retry schedule.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values), name="webhookdelivery_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhookdelivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["endpoint", "ordering_key", "id"],
                name="webhookdelivery_in_order",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: no HTTP answer.")
    ok = models.BooleanField()
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.at:%Y-%m-%d %H:%M:%S}"
