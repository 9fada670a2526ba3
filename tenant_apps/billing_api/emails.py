"""E-mail builders (see tenant_apps.notifications)."""

from __future__ import annotations

from billing.selectors import account_for, billing_banner
from shared_apps.core.tenancy import tenant_connection
from shared_apps.tenants.services import tenant_url
from tenant_apps.members.models import Membership


def past_due_email(membership_id: int) -> tuple[str, str, str] | None:
    membership = Membership.objects.select_related("user").filter(pk=membership_id, is_active=True).first()
    organisation = tenant_connection().tenant
    banner = billing_banner(account_for(organisation_id=organisation.pk))
    if membership is None or banner is None:
        return None  # paid meanwhile, or no longer an admin
    body = (
        f"{banner}\n\nManage billing for {organisation.name}: {tenant_url(organisation)}app/billing\n"
        "(Admins open the payment portal from there.)\n"
    )
    return membership.user.email, f"Payment failed for {organisation.name}", body
