from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "tenant_apps.privacy"
    label = "privacy"

    def ready(self) -> None:
        from celery.schedules import crontab

        from shared_apps.core import registry
        from tenant_apps.privacy import sources

        registry.register_subject_source(name="responses.respondent", source=sources.RESPONDENTS)
        registry.register_subject_source(name="responses.email_answers", source=sources.EMAIL_ANSWERS)
        registry.register_subject_source(name="responses.drafts", source=sources.DRAFTS)
        # Daily, per active organisation: soft-deleted submissions past ``deleted_retention_days`` go for good.
        registry.register_periodic_job(
            name="purge-deleted-submissions",
            task="tenant_apps.privacy.tasks.deleted_submissions_purge",
            schedule=crontab(minute=35, hour=3),
            per_tenant=True,
            jitter_seconds=60.0,
        )
