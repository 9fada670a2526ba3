"""The Celery app: tenant-aware (tenant-schemas-celery), four queues, beat schedule."""

from __future__ import annotations

import os

from celery.schedules import crontab
from kombu import Queue
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = CeleryApp("survey_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("high_priority", "analytics", "exports", "notifications")
app.conf.update(
    task_queues=[Queue(name) for name in QUEUES],
    task_default_queue="high_priority",
    # Routing by task name prefix: each app's tasks declare their queue here, in one place.
    task_routes={
        "shared_apps.tenants.tasks.*": {"queue": "high_priority"},
        "tenant_apps.surveys.tasks.*": {"queue": "high_priority"},
        "tenant_apps.responses.tasks.resume_link_email": {"queue": "notifications"},  # exact names win over globs
        "tenant_apps.responses.tasks.*": {"queue": "high_priority"},
        "tenant_apps.analytics.tasks.*": {"queue": "analytics"},
        "tenant_apps.exports.tasks.*": {"queue": "exports"},
        "tenant_apps.notifications.tasks.*": {"queue": "notifications"},
    },
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=60,
    task_time_limit=90,
    task_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 3600},
    task_tenant_cache_seconds=10,
    beat_schedule={
        "sync-drafts": {
            "task": "tenant_apps.responses.tasks.drafts_sync_all",
            "schedule": 60.0,
        },
        "maintain-partitions": {
            "task": "shared_apps.tenants.tasks.partitions_maintain",
            "schedule": crontab(minute=5, hour=2),
        },
        "purge-deleted-tenants": {
            "task": "shared_apps.tenants.tasks.tenant_purge_due",
            "schedule": crontab(minute=17),
        },
    },
)
app.autodiscover_tasks()
