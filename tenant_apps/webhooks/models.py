"""Webhooks (tenant schema): endpoints, the events sent to them, one delivery per (event, endpoint)
and an attempt log per delivery.

A delivery is claimed by a task (``status=sending`` with a lease in ``locked_until``), sent without a
transaction open, and its outcome recorded with the attempt; a pending delivery whose
``next_attempt_at`` has passed (or a lease that expired with its worker) is picked up again by the
per-tenant sweep, so a lost message or a killed worker delays a delivery but never loses it."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

EVENT_TYPES = ("response.completed", "survey.published", "survey.closed", "export.completed")


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=40), default=list)
    is_active = models.BooleanField(default=True)
    # Signing secret, sealed with the organisation's key (services.endpoint_secret opens it); during a
    # rotation's overlap the previous one signs too.
    secret = models.CharField(max_length=400)
    previous_secret = models.CharField(max_length=400, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Failed attempts in a row (any delivery); a success resets it. At WEBHOOK_DISABLE_AFTER_FAILURES
    # the endpoint is disabled and the admins are told.
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"webhook:{self.pk}"


class WebhookEvent(models.Model):
    """One domain event as sent: ``body`` is the exact JSON every attempt and redelivery posts."""

    event_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=40)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return self.event_id


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # retries exhausted (24 h)
        CANCELLED = "cancelled"  # the endpoint was disabled or deleted

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    # A manual redelivery is a new delivery of the same event (same body and event id).
    # CASCADE, not SET_NULL: nulling it would make a redelivery collide with the original (unique below).
    redelivery_of = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    requested_by_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"],
                condition=models.Q(redelivery_of__isnull=True),
                name="webhook_delivery_once_per_event",
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"delivery:{self.pk}:{self.status}"


class WebhookAttempt(models.Model):
    """The delivery log: what was sent and what came back (excerpts), one row per attempt."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    address = models.CharField(max_length=64, blank=True, help_text="The IP address connected to.")
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    response_status = models.PositiveIntegerField(null=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    succeeded = models.BooleanField(default=False)
    # When the next attempt was scheduled (None: no retry, success or given up).
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("number", "id")
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number")]

    def __str__(self) -> str:
        return f"attempt:{self.delivery_id}:{self.number}"


class WebhookNotice(models.Model):
    """An e-mail to one admin that an endpoint was disabled (the e-mail builder reads it)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="notices")
    user_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"notice:{self.endpoint_id}:{self.user_id}"
