from __future__ import annotations

from django.db.models import QuerySet

from tenant_apps.webhooks.models import WebhookDelivery, WebhookEndpoint


def webhook_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.all()


def delivery_list(*, endpoint_id: int) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_id).select_related("event")
