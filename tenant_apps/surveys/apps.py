from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from shared_apps.core.registry import SeedContext
    from shared_apps.tenants.models import Organisation


class SurveysConfig(AppConfig):
    name = "tenant_apps.surveys"
    label = "surveys"

    def ready(self) -> None:
        from shared_apps.core import registry

        registry.register_seeder(name="surveys.demo_survey", seed=_seed_demo_survey, order=50)
        registry.register_append_only_table(table="surveys_surveyversion")
        registry.register_demo_lines(name="surveys.demo_survey_link", lines=_demo_survey_link)


def _seed_demo_survey(context: SeedContext) -> None:
    from tenant_apps.surveys.services import survey_create_demo

    if context.demo:
        survey_create_demo(created_by_id=context.admin.pk if context.admin else None)


def _demo_survey_link(organisation: Organisation) -> list[tuple[str, str]]:
    from django_tenants.utils import tenant_context

    from shared_apps.tenants.services import tenant_url
    from tenant_apps.surveys.models import Survey

    with tenant_context(organisation):
        link = Survey.objects.filter(status=Survey.Status.PUBLISHED).values_list("public_link", flat=True).first()
    return [("Demo survey", f"{tenant_url(organisation)}s/{link}")] if link else []
