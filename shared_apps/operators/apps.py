from django.apps import AppConfig


class OperatorsConfig(AppConfig):
    """The Django admin for platform operators (platform host only) and its append-only platform log."""

    name = "shared_apps.operators"
    label = "operators"

    def ready(self) -> None:
        from shared_apps.core import registry
        from shared_apps.operators import signals  # noqa: F401 - sign-in, failed sign-in, sign-out

        # Public schema: the application role may insert and read, never change (shared_apps.core.rls).
        registry.register_append_only_table(table="operators_operatorevent")
