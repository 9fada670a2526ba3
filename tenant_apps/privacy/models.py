"""Data-subject requests (tenant schema): the receipt of each access or erasure. The subject is kept
only as a keyed digest (HMAC of the normalised e-mail / respondent key), never in clear, so an erasure
receipt does not hold the personal data it erased."""

from __future__ import annotations

import uuid

from django.db import models


class SubjectRequest(models.Model):
    class Kind(models.TextChoices):
        ACCESS = "access"
        ERASE = "erase"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    subject_digest = models.CharField(max_length=64, db_index=True)
    counts = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True)
    channel = models.CharField(max_length=8)
    receipt_hash = models.CharField(max_length=64)
    audit_event_id = models.BigIntegerField(null=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


class TenantExport(models.Model):
    """A portability archive of the whole organisation (zip of JSON and CSV), built by a task to storage."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    storage_key = models.CharField(max_length=300, blank=True)
    size = models.BigIntegerField(null=True)
    counts = models.JSONField(default=dict)
    error = models.CharField(max_length=300, blank=True)
    requested_by_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"tenant-export:{self.pk}:{self.status}"
