from __future__ import annotations

from django.core.mail import EmailMessage

from shared_apps.core.tasks import tenant_task
from tenant_apps.responses.services import drafts_sync


@tenant_task(name="tenant_apps.responses.tasks.drafts_sync", soft_time_limit=50, time_limit=60)
def drafts_sync_task(*, schema_name: str) -> int:
    """Copy this tenant's changed Redis drafts to PostgreSQL (unstorable ones are quarantined, not retried)."""
    return drafts_sync()


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
