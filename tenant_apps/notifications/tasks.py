from __future__ import annotations

import logging

from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

from shared_apps.core import registry
from shared_apps.core.tasks import tenant_task

logger = logging.getLogger(__name__)


@tenant_task(
    name="tenant_apps.notifications.tasks.email_send",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=30,
    time_limit=45,
)
def email_send(*, schema_name: str, kind: str, object_id: int) -> bool:
    """Build and send one email. Returns False when the row no longer calls for it."""
    message = import_string(registry.email_builder(kind))(object_id)
    if message is None:
        return False
    to, subject, body = message
    EmailMessage(subject=subject, body=body, to=[to]).send()
    logger.info("email sent", extra={"kind": kind, "object_id": object_id})
    return True
