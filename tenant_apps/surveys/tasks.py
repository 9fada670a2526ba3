from __future__ import annotations

from shared_apps.core.tasks import tenant_task
from tenant_apps.surveys.selectors import survey_list


@tenant_task(name="tenant_apps.surveys.tasks.survey_titles")
def survey_titles(*, schema_name: str) -> list[str]:
    """The current tenant's survey titles (used by health checks of the worker and by tests)."""
    return list(survey_list().values_list("title", flat=True))
