from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Stripe billing (shared app, public schema). Plans are recorded on the organisation for now."""

    name = "billing"
