from django.apps import AppConfig


class DistributionConfig(AppConfig):
    name = "tenant_apps.distribution"
    label = "distribution"

    def ready(self) -> None:
        from shared_apps.core import registry
        from tenant_apps.distribution.events import on_response_completed
        from tenant_apps.distribution.subjects import CONTACTS

        # A response given through an invitation link marks that invitation "responded" (same transaction).
        registry.register_event_handler(
            event="response.completed", name="distribution.invitation_responded", handler=on_response_completed
        )
        # Data-subject requests by e-mail find (and erase) the contact, and the responses given through its links.
        registry.register_subject_source(name="distribution.contacts", source=CONTACTS)
        # Every 5 minutes, per active organisation: remind contacts who have not responded yet.
        registry.register_periodic_job(
            name="distribution-reminders",
            task="tenant_apps.distribution.tasks.reminders_send",
            schedule=300.0,
            per_tenant=True,
        )
