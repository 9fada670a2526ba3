from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tenant_apps.audit"
    label = "audit"

    def ready(self) -> None:
        from celery.schedules import crontab

        from shared_apps.core import registry
        from tenant_apps.audit.services import audit_record

        registry.register_audit_recorder(audit_record)
        registry.register_partitioned_table(table="audit_event")
        registry.register_append_only_table(table="audit_event")
        # Daily, per active organisation: check the audit hash chain (an alert in the logs when broken).
        registry.register_periodic_job(
            name="verify-audit-chain",
            task="tenant_apps.audit.tasks.audit_chain_verify",
            schedule=crontab(minute=50, hour=3),
            per_tenant=True,
            jitter_seconds=300.0,
        )
