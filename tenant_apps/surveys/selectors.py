from __future__ import annotations

from django.db.models import QuerySet

from tenant_apps.surveys.models import Survey


def survey_list() -> QuerySet[Survey]:
    """Surveys of the current tenant (the connection's schema)."""
    return Survey.objects.order_by("-created_at")
