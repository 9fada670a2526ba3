from __future__ import annotations

import logging

from billing.services import grace_expire
from shared_apps.core.tasks import platform_task

logger = logging.getLogger(__name__)


@platform_task(name="billing.tasks.grace_expire", soft_time_limit=120, time_limit=180)
def grace_expire_task() -> list[str]:
    """Record the restriction of every past_due organisation whose grace period ended (it applies on read
    already: this writes the state and the audit entry)."""
    restricted = grace_expire()
    if restricted:
        logger.warning("billing restricted", extra={"tenants": restricted})
    return restricted
