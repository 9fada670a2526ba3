from django.apps import AppConfig


class BillingApiConfig(AppConfig):
    """The organisation's side of billing (billing/ is a shared app and never sees tenant models): the
    billing API with usage counted in the tenant's schema, and the dunning e-mail to its admins."""

    name = "tenant_apps.billing_api"
    label = "billing_api"

    def ready(self) -> None:
        from shared_apps.core import registry
        from tenant_apps.billing_api.services import on_billing_changed

        registry.register_email_builder(
            kind="billing_past_due", builder="tenant_apps.billing_api.emails.past_due_email"
        )
        registry.register_event_handler(event="billing.changed", name="billing_api.dunning", handler=on_billing_changed)
