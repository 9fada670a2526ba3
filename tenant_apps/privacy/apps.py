from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "tenant_apps.privacy"
    label = "privacy"

    def ready(self) -> None:
        from shared_apps.core import registry
        from tenant_apps.privacy import sources

        registry.register_subject_source(name="responses.respondent", source=sources.RESPONDENTS)
        registry.register_subject_source(name="responses.email_answers", source=sources.EMAIL_ANSWERS)
        registry.register_subject_source(name="responses.drafts", source=sources.DRAFTS)
