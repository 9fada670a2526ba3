from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded

from shared_apps.core.tasks import tenant_task
from tenant_apps.exports import services


@tenant_task(
    name="tenant_apps.exports.tasks.export_run",
    # A worker killed mid-export leaves the message unacknowledged: it is redelivered and resumes
    # from the job's checkpoint.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 60,
)
def export_run_task(*, schema_name: str, job_id: int) -> str:
    try:
        return services.export_run(job_id=job_id).status
    except SoftTimeLimitExceeded:
        services.export_fail(job_id=job_id, reason="The export took too long.")
        raise
    except Exception as exc:
        services.export_fail(job_id=job_id, reason=f"{type(exc).__name__}")
        raise


@tenant_task(name="tenant_apps.exports.tasks.exports_expire", soft_time_limit=300, time_limit=330)
def exports_expire(*, schema_name: str) -> int:
    """Delete this tenant's expired export files."""
    return services.exports_expire()
