from __future__ import annotations

import random

from django.core.mail import EmailMessage

from shared_apps.core.tasks import platform_task, tenant_task
from tenant_apps.responses.services import drafts_sync


@tenant_task(name="tenant_apps.responses.tasks.drafts_sync", soft_time_limit=50, time_limit=60)
def drafts_sync_task(*, schema_name: str) -> int:
    """Copy this tenant's changed Redis drafts to PostgreSQL (unstorable ones are quarantined, not retried)."""
    return drafts_sync()


@platform_task(name="tenant_apps.responses.tasks.drafts_sync_all", soft_time_limit=30, time_limit=40)
def drafts_sync_all() -> int:
    """Beat, every minute: one task per active tenant, spread over a few seconds."""
    from shared_apps.tenants.models import Organisation

    schemas = Organisation.objects.filter(
        kind=Organisation.Kind.CUSTOMER, status=Organisation.Status.ACTIVE
    ).values_list("schema_name", flat=True)
    count = 0
    for schema_name in schemas:
        drafts_sync_task.apply_async(kwargs={"schema_name": schema_name}, countdown=random.uniform(0, 5))  # noqa: S311
        count += 1
    return count


@tenant_task(
    name="tenant_apps.responses.tasks.resume_link_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=30,
    time_limit=45,
)
def resume_link_email(*, schema_name: str, survey_id: int, link: str, uid: str, expires: int, email: str) -> bool:
    """Send a respondent the link that resumes their draft (the code is signed here, not carried in the queue)."""
    from tenant_apps.responses.emails import resume_link_message

    message = resume_link_message(survey_id=survey_id, link=link, uid=uid, expires=expires)
    if message is None:
        return False
    subject, body = message
    EmailMessage(subject=subject, body=body, to=[email]).send()
    return True
