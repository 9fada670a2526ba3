"""The platform's own log of what operators do (public schema, append-only)."""

from __future__ import annotations

from django.db import models


class OperatorEvent(models.Model):
    """One admin action, sign-in, failed sign-in or sign-out on the platform host. Append-only: the application
    role has no UPDATE, DELETE or TRUNCATE on this table (``shared_apps.core.rls.grant_public_schema``); the actor
    is copied (id and e-mail), not a foreign key, so deleting an account changes no entry."""

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True)
    actor_email = models.CharField(max_length=254, blank=True)
    # admin.login | admin.login_failed | admin.logout | admin.add | admin.change | admin.delete |
    # organisation.suspend | organisation.resume
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    # The organisation concerned (its slug), if any: the same action is in that organisation's audit log.
    organisation = models.CharField(max_length=40, blank=True, db_index=True)
    changes = models.JSONField(default=dict)
    ip = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-occurred_at", "-id")

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_email or '-'} at {self.occurred_at:%Y-%m-%dT%H:%M:%S}"
