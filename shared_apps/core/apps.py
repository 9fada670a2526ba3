from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shared_apps.core"
    label = "core"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from shared_apps.core import metrics, signals, trace  # noqa: F401  (signals: connects schema_migrated)

        user_login_failed.connect(metrics.auth_failure_counted, dispatch_uid="metrics-auth-failures")
        trace.connect()  # the request id rides along in Celery message headers
        metrics.connect_task_metrics()
