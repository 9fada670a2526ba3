from __future__ import annotations

from typing import Any

from shared_apps.core.tasks import tenant_task
from tenant_apps.webhooks import services


@tenant_task(name="tenant_apps.webhooks.tasks.webhook_event_dispatch", soft_time_limit=60, time_limit=90)
def webhook_event_dispatch(*, schema_name: str, envelope: dict[str, Any]) -> int:
    return services.event_dispatch(envelope=envelope)


@tenant_task(
    name="tenant_apps.webhooks.tasks.webhook_deliver",
    # One attempt: the request is bounded by WEBHOOK_TIMEOUT_SECONDS (10 s); a killed worker's lease
    # expires and the sweep sends the delivery again.
    soft_time_limit=45,
    time_limit=60,
)
def webhook_deliver(*, schema_name: str, delivery_id: int) -> str:
    return services.delivery_attempt(delivery_id=delivery_id)


@tenant_task(name="tenant_apps.webhooks.tasks.webhooks_sweep", soft_time_limit=120, time_limit=150)
def webhooks_sweep(*, schema_name: str) -> int:
    return services.deliveries_sweep()
