"""The append-only audit log (tenant schema), partitioned by month.

The table is created by SQL in the migration (``PARTITION BY RANGE (occurred_at)``, primary key
``(id, occurred_at)``); Django does not manage it. The application role may INSERT and SELECT but
not UPDATE, DELETE or TRUNCATE it (registered append-only in ``AuditConfig.ready``)."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    class ActorKind(models.TextChoices):
        USER = "user"
        SYSTEM = "system"
        ANONYMOUS = "anonymous"

    class Channel(models.TextChoices):
        API = "api"
        CLI = "cli"
        TASK = "task"
        ADMIN = "admin"  # a platform operator in the Django admin (shared_apps.operators)

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=dict)
    ip = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # The hash chain (tenant_apps.audit.chain): position in the month's partition, the previous
    # entry's hash and this entry's own.
    chain_seq = models.BigIntegerField(null=True)
    prev_hash = models.CharField(max_length=64, null=True)
    entry_hash = models.CharField(max_length=64, null=True)

    class Meta:
        managed = False
        db_table = "audit_event"
        ordering = ("-occurred_at", "-id")

    def __str__(self) -> str:
        return f"{self.action}@{self.occurred_at:%Y-%m-%dT%H:%M:%S}"
