"""Reads of the surveys app (the current tenant's, through the connection's schema)."""

from __future__ import annotations

from django.db.models import QuerySet

from tenant_apps.surveys.models import Publication, Survey, SurveyVersion


def survey_list(*, status: str | None = None) -> QuerySet[Survey]:
    """Newest first, without the (large) draft definition."""
    qs = Survey.objects.select_related("current_version").defer("definition").order_by("-created_at")
    return qs.filter(status=status) if status else qs


def survey_get(*, survey_id: int) -> Survey | None:
    return Survey.objects.select_related("current_version").filter(pk=survey_id).first()


def publication_get(*, survey_id: int, publication_id: int) -> Publication | None:
    return Publication.objects.select_related("version").filter(pk=publication_id, survey_id=survey_id).first()


def version_list(*, survey: Survey) -> QuerySet[SurveyVersion]:
    """The survey's published versions, without their definitions."""
    return SurveyVersion.objects.filter(survey=survey).defer("definition", "compiled")
