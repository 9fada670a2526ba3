"""The Celery app: tenant-aware (tenant-schemas-celery), five queues, beat schedule (from the registry)."""

from __future__ import annotations

import os
from typing import Any

from celery.signals import beat_init
from kombu import Queue
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = CeleryApp("survey_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("high_priority", "analytics", "exports", "notifications", "webhooks")
app.conf.update(
    task_queues=[Queue(name) for name in QUEUES],
    task_default_queue="high_priority",
    # Routing by task name prefix: each app's tasks declare their queue here, in one place.
    task_routes={
        "shared_apps.tenants.tasks.signup_verification_email": {"queue": "notifications"},
        "shared_apps.tenants.tasks.*": {"queue": "high_priority"},
        "tenant_apps.surveys.tasks.*": {"queue": "high_priority"},
        "tenant_apps.responses.tasks.resume_link_email": {"queue": "notifications"},  # exact names win over globs
        "tenant_apps.responses.tasks.*": {"queue": "high_priority"},
        "tenant_apps.analytics.tasks.*": {"queue": "analytics"},
        "tenant_apps.exports.tasks.*": {"queue": "exports"},
        "tenant_apps.notifications.tasks.*": {"queue": "notifications"},
        # Slow receivers (up to the 10 s timeout each) must not hold up e-mail or publishing.
        "tenant_apps.webhooks.tasks.*": {"queue": "webhooks"},
        "tenant_apps.distribution.tasks.*": {"queue": "notifications"},
        "tenant_apps.privacy.tasks.tenant_export_run": {"queue": "exports"},
        "tenant_apps.privacy.tasks.*": {"queue": "high_priority"},
        "tenant_apps.audit.tasks.*": {"queue": "high_priority"},
    },
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # A running task shows as STARTED in the result backend (operators, and the fault test that kills a worker).
    task_track_started=True,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=60,
    task_time_limit=90,
    task_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    # broker_transport_options (the visibility timeout of late-acked tasks): settings, CELERY_VISIBILITY_TIMEOUT.
    task_tenant_cache_seconds=10,
)


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Beat entries from what the apps registered (``shared_apps.core.registry.register_periodic_job``):
    a per-tenant job runs the fan-out task, which sends one task per active organisation."""
    from shared_apps.core import registry

    schedule: dict[str, dict[str, Any]] = {}
    for job in registry.periodic_jobs():
        if job.per_tenant:
            entry = {"task": "shared_apps.tenants.tasks.periodic_fan_out", "kwargs": {"job": job.name}}
        else:
            entry = {"task": job.task, "kwargs": dict(job.kwargs or {})}
        schedule[job.name] = {**entry, "schedule": job.schedule}
    return schedule


@beat_init.connect
def _install_beat_schedule(sender: Any, **kwargs: Any) -> None:
    # Django is set up by now (beat's loader ran), so every AppConfig.ready() has registered its jobs.
    sender.scheduler.update_from_dict(beat_schedule())


app.autodiscover_tasks()
