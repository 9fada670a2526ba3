from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "tenant_apps.analytics"
    label = "analytics"

    def ready(self) -> None:
        from shared_apps.core import registry

        # Every 5 s: one aggregation task per organisation that has dirty surveys (idle ones cost nothing,
        # so this is a platform job reading a Redis set, not a per-tenant fan-out).
        registry.register_periodic_job(
            name="analytics-refresh", task="tenant_apps.analytics.tasks.refresh_dirty", schedule=5.0
        )
