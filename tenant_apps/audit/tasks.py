from __future__ import annotations

import logging

from django.db import connection

from shared_apps.core.tasks import tenant_task
from shared_apps.core.tenancy import current_schema
from tenant_apps.audit.chain import audit_verify

logger = logging.getLogger(__name__)


@tenant_task(name="tenant_apps.audit.tasks.audit_chain_verify", soft_time_limit=1800, time_limit=1860)
def audit_chain_verify(*, schema_name: str) -> bool:
    """Daily, per organisation: walk the audit hash chain; a broken link raises an alert in the logs."""
    with connection.cursor() as cursor:
        report = audit_verify(cursor=cursor)
    if report.broken is not None:
        logger.error(
            "audit chain broken",
            extra={
                "tenant": current_schema(),
                "alert": True,
                "entry": report.broken.id,
                "reason": report.broken.reason,
            },
        )
        return False
    return True
