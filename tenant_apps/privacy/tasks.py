from __future__ import annotations

from shared_apps.core.tasks import tenant_task
from tenant_apps.privacy import services


@tenant_task(name="tenant_apps.privacy.tasks.deleted_submissions_purge", soft_time_limit=900, time_limit=960)
def deleted_submissions_purge(*, schema_name: str) -> int:
    """Daily, per organisation: delete soft-deleted submissions past the organisation's retention."""
    return services.deleted_submissions_purge()
