from __future__ import annotations

from shared_apps.core.tasks import tenant_task
from tenant_apps.distribution import services


@tenant_task(
    name="tenant_apps.distribution.tasks.distribution_send",
    # A lost SMTP connection retries the batch (the invitations not sent stay queued).
    autoretry_for=(ConnectionError, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
    soft_time_limit=120,
    time_limit=150,
)
def distribution_send(*, schema_name: str, distribution_id: int) -> str:
    return services.distribution_send_batch(distribution_id=distribution_id)


@tenant_task(name="tenant_apps.distribution.tasks.reminders_send", soft_time_limit=240, time_limit=270)
def reminders_send(*, schema_name: str) -> int:
    """Beat, per organisation: remind contacts who have not responded yet."""
    return services.reminders_send()
