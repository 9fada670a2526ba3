"""Email builder for the notifications task: a new response, to the survey's owner."""

from __future__ import annotations

import datetime as dt

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


def resume_link_message(*, survey_id: int, link: str, uid: str, expires: int) -> tuple[str, str] | None:
    """(subject, body) of the e-mail that carries a draft's resume link; None once the survey is gone."""
    from tenant_apps.responses.services import resume_code, resume_token

    survey = Survey.objects.filter(pk=survey_id, public_link=link).only("title").first()
    if survey is None:
        return None
    until = dt.datetime.fromtimestamp(expires, tz=dt.UTC)
    token = resume_token(survey_id=survey_id, uid=uid, expires=until)
    url = f"{tenant_url(tenant_connection().tenant)}s/{link}?r={resume_code(survey_id=survey_id, uid=uid, token=token)}"
    body = (
        f"You asked for a link to continue the survey {survey.title!r} later.\n\n"
        f"Continue where you left off: {url}\n\n"
        f"The link works until {until:%Y-%m-%d %H:%M} UTC. If you did not ask for it, ignore this e-mail.\n"
    )
    return f"Continue the survey {survey.title}", body
