from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shared_apps.core"
    label = "core"

    def ready(self) -> None:
        from shared_apps.core import signals  # noqa: F401  (connects schema_migrated)
