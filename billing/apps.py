from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Stripe billing (shared app, public schema): plan catalogue and limits, the billing account per
    organisation, checkout/portal sessions, signed webhooks, dunning. Never imports a tenant app: the
    tenant side (API with usage, dunning e-mail) is tenant_apps.billing_api."""

    name = "billing"

    def ready(self) -> None:
        from celery.schedules import crontab

        from shared_apps.core import registry

        registry.register_periodic_job(
            name="billing-grace-expire", task="billing.tasks.grace_expire", schedule=crontab(minute=23)
        )
