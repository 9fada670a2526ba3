from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "shared_apps.tenants"
    label = "tenants"

    def ready(self) -> None:
        from celery.schedules import crontab

        from shared_apps.core import registry

        registry.register_periodic_job(
            name="maintain-partitions",
            task="shared_apps.tenants.tasks.partitions_maintain",
            schedule=crontab(minute=5, hour=2),
        )
        registry.register_periodic_job(
            name="purge-deleted-tenants", task="shared_apps.tenants.tasks.tenant_purge_due", schedule=crontab(minute=17)
        )
        registry.register_periodic_job(
            name="purge-unverified-signups",
            task="shared_apps.tenants.tasks.signups_purge_expired",
            schedule=crontab(minute=37),
        )
        # One platform task (not per tenant): drop stale spare schemas, clone up to TENANT_SPARE_SCHEMAS.
        registry.register_periodic_job(
            name="refill-spare-schemas", task="shared_apps.tenants.tasks.spares_refill", schedule=60.0
        )
