from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "tenant_apps.exports"
    label = "exports"

    def ready(self) -> None:
        from shared_apps.core import registry

        # Hourly, per active organisation: delete exports past their expiry (file and parts included).
        registry.register_periodic_job(
            name="delete-expired-exports",
            task="tenant_apps.exports.tasks.exports_expire",
            schedule=3600.0,
            per_tenant=True,
        )
