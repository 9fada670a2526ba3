from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from shared_apps.core.parsers import UnsafeJson, json_value_check
from tenant_apps.responses.models import Answer, DraftCopy, Submission
from tenant_apps.surveys.models import SurveyVersion


def submission_list(
    *,
    survey_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    respondent_id: int | None = None,
    answer: tuple[str, Any] | None = None,
) -> QuerySet[Submission]:
    """Newest first, soft-deleted excluded. A date range scans only the matching monthly partitions.
    ``answer`` = (question id, value): submissions whose answer equals the value or includes it.
    ``version_number`` is the number of the version answered (``version_id`` is that version's row id)."""
    number = SurveyVersion.objects.filter(pk=OuterRef("version_id")).values("number")[:1]
    qs = Submission.objects.filter(survey_id=survey_id, deleted_at__isnull=True).annotate(
        version_number=Subquery(number)
    )
    if since:
        qs = qs.filter(submitted_at__gte=since)
    if until:
        qs = qs.filter(submitted_at__lt=until)
    if respondent_id is not None:
        qs = qs.filter(respondent_id=respondent_id)
    if answer is not None:
        question_id, value = answer
        try:  # NUL, lone surrogates or non-finite numbers would fail inside PostgreSQL
            json_value_check([question_id, value], "answer")
        except UnsafeJson as exc:
            raise ValidationError({"answer": [exc.message]}) from exc
        matching = Answer.objects.filter(
            submission_id=OuterRef("id"), submitted_at=OuterRef("submitted_at"), question_id=question_id
        )
        matching = matching.filter(value=value) | matching.filter(choices__contains=[value])
        qs = qs.filter(Exists(matching))
    return qs.order_by("-submitted_at", "-id")


def answers_for(submissions: list[Submission]) -> dict[int, dict[str, Any]]:
    """The answers of a page of submissions, in one query."""
    if not submissions:
        return {}
    low = min(s.submitted_at for s in submissions)
    rows = Answer.objects.filter(submission_id__in=[s.id for s in submissions], submitted_at__gte=low).values_list(
        "submission_id", "question_id", "value"
    )
    result: dict[int, dict[str, Any]] = {s.id: {} for s in submissions}
    for submission_id, question_id, value in rows:
        result[submission_id][question_id] = value
    return result


def draft_list(*, survey_id: int) -> QuerySet[DraftCopy]:
    """Responses in progress (drafts as of the last sync), newest first."""
    return DraftCopy.objects.filter(survey_id=survey_id, expires_at__gt=timezone.now()).order_by("-updated_at", "uid")
