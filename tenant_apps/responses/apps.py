from django.apps import AppConfig


class ResponsesConfig(AppConfig):
    name = "tenant_apps.responses"
    label = "responses"

    def ready(self) -> None:
        from shared_apps.core import registry
        from tenant_apps.responses.demo import seed_demo_responses

        # Responses are kept for the organisation's retention period (older partitions detached).
        registry.register_partitioned_table(table="responses_submission", retained=True)
        registry.register_partitioned_table(table="responses_answer", retained=True)
        # The demo organisation's survey (seeded at order 50) gets demo responses.
        registry.register_seeder(name="responses.demo_responses", seed=seed_demo_responses, order=60)
        registry.register_email_builder(kind="submission", builder="tenant_apps.responses.emails.submission_email")
        # Every minute, per active organisation: copy changed Redis drafts to PostgreSQL.
        registry.register_periodic_job(
            name="sync-drafts", task="tenant_apps.responses.tasks.drafts_sync", schedule=60.0, per_tenant=True
        )
