"""Reacting to billing changes inside the organisation: e-mail every admin when payment fails."""

from __future__ import annotations

from typing import Any

from tenant_apps.members.models import Membership
from tenant_apps.members.permissions import ADMIN_ROLE
from tenant_apps.notifications.services import email_enqueue


def on_billing_changed(event: str, payload: dict[str, Any]) -> None:
    """``billing.changed`` (in the tenant's context): entering past_due e-mails each active admin once."""
    if (payload.get("after") or {}).get("status") != "past_due":
        return
    for membership_id in Membership.objects.filter(role__slug=ADMIN_ROLE, is_active=True).values_list("pk", flat=True):
        email_enqueue(kind="billing_past_due", object_id=membership_id)
