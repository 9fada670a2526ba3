from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tenant_apps.audit"
    label = "audit"

    def ready(self) -> None:
        from shared_apps.core import registry
        from tenant_apps.audit.services import audit_record

        registry.register_audit_recorder(audit_record)
        registry.register_partitioned_table(table="audit_event")
        registry.register_append_only_table(table="audit_event")
