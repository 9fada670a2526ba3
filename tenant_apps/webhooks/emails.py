"""E-mail builder: tell an admin that an endpoint was disabled after failing repeatedly."""

from __future__ import annotations

from shared_apps.accounts.models import User
from shared_apps.core.tenancy import tenant_connection
from shared_apps.tenants.services import tenant_url
from tenant_apps.webhooks.models import WebhookNotice


def webhook_disabled_email(notice_id: int) -> tuple[str, str, str] | None:
    notice = WebhookNotice.objects.select_related("endpoint").filter(pk=notice_id).first()
    if notice is None or notice.endpoint.is_active:
        return None
    user = User.objects.filter(pk=notice.user_id, is_active=True).first()
    if user is None:
        return None
    organisation = tenant_connection().tenant
    endpoint = notice.endpoint
    body = (
        f"The webhook endpoint {endpoint.url} of {organisation.name} was disabled: "
        f"{endpoint.disabled_reason}\n\n"
        f"Its pending deliveries were cancelled. Fix the receiver, then enable the endpoint again and "
        f"redeliver what it missed: {tenant_url(organisation)}app/webhooks/{endpoint.pk}\n"
    )
    return user.email, f"Webhook endpoint disabled at {organisation.name}", body
