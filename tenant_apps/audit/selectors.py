from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from tenant_apps.audit.models import AuditEvent


def audit_event_list(
    *,
    action: str | None = None,
    actor_id: int | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Newest first. A date range lets PostgreSQL scan only the matching monthly partitions.
    ``action`` ending in ``.*`` matches a prefix (``member.*``)."""
    qs = AuditEvent.objects.all()
    if action:
        qs = qs.filter(action__startswith=action[:-1]) if action.endswith(".*") else qs.filter(action=action)
    if actor_id is not None:
        qs = qs.filter(actor_id=actor_id)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    if channel:
        qs = qs.filter(channel=channel)
    if since:
        qs = qs.filter(occurred_at__gte=since)
    if until:
        qs = qs.filter(occurred_at__lt=until)
    return qs.order_by("-occurred_at", "-id")
