from __future__ import annotations

from shared_apps.core.tasks import tenant_task
from tenant_apps.privacy import services


@tenant_task(name="tenant_apps.privacy.tasks.deleted_submissions_purge", soft_time_limit=900, time_limit=960)
def deleted_submissions_purge(*, schema_name: str) -> int:
    """Daily, per organisation: delete soft-deleted submissions past the organisation's retention."""
    return services.deleted_submissions_purge()


@tenant_task(
    name="tenant_apps.privacy.tasks.tenant_export_run",
    reject_on_worker_lost=True,
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 60,
)
def tenant_export_run_task(*, schema_name: str, export_id: int) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    from tenant_apps.privacy import portability

    try:
        return portability.tenant_export_run(export_id=export_id).status
    except SoftTimeLimitExceeded:
        portability.tenant_export_fail(export_id=export_id, reason="The export took too long.")
        raise
    except Exception as exc:
        portability.tenant_export_fail(export_id=export_id, reason=type(exc).__name__)
        raise
