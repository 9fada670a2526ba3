from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "tenant_apps.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from shared_apps.core import registry
        from tenant_apps.webhooks.models import EVENT_TYPES
        from tenant_apps.webhooks.services import on_domain_event

        for event in EVENT_TYPES:
            registry.register_event_handler(event=event, name="webhooks", handler=on_domain_event)
        registry.register_email_builder(
            kind="webhook_disabled", builder="tenant_apps.webhooks.emails.webhook_disabled_email"
        )
        # Every minute, per active organisation: queue deliveries whose retry is due (retries later than
        # WEBHOOK_COUNTDOWN_MAX_SECONDS, lost messages, expired leases).
        registry.register_periodic_job(
            name="webhooks-sweep",
            task="tenant_apps.webhooks.tasks.webhooks_sweep",
            schedule=60.0,
            per_tenant=True,
            jitter_seconds=20.0,
        )
