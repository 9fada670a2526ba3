"""Email builder for the notifications task: a new response, to the survey's owner."""

from __future__ import annotations

from shared_apps.accounts.models import User
from shared_apps.core.tenancy import tenant_connection
from shared_apps.tenants.services import tenant_url
from tenant_apps.responses.models import Submission
from tenant_apps.surveys.models import Survey


def submission_email(submission_id: int) -> tuple[str, str, str] | None:
    submission = Submission.objects.filter(pk=submission_id).only("survey_id", "submitted_at", "uid").first()
    survey = Survey.objects.filter(pk=submission.survey_id).first() if submission else None
    owner = (
        User.objects.filter(pk=survey.created_by_id, is_active=True).first()
        if survey and survey.created_by_id
        else None
    )
    if submission is None or survey is None or owner is None or not survey.notify_owners:
        return None
    url = tenant_url(tenant_connection().tenant)
    body = (
        f"{survey.title!r} received a new response at {submission.submitted_at:%Y-%m-%d %H:%M} UTC "
        f"(response {submission.uid}).\n\nSee the responses: {url}\n"
    )
    return owner.email, f"New response to {survey.title}", body
