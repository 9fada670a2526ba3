"""A real Celery worker on Redis runs tenant tasks in the schema they name, and only there."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from config.celery import app
from shared_apps.core.tasks import TenantScopedError
from tenant_apps.surveys.services import survey_create
from tenant_apps.surveys.tasks import survey_titles

pytestmark = pytest.mark.worker


def test_task_reads_the_named_tenants_data_only(celery_worker_process, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        survey_create(title="Only in A", created_by_id=None)
    with tenant_context(tenant_b):
        survey_create(title="Only in B", created_by_id=None)

    with tenant_context(tenant_a):
        result = survey_titles.delay(schema_name=tenant_a.schema_name)
    titles = result.get(timeout=30)
    assert "Only in A" in titles
    assert "Only in B" not in titles

    # Sent from the public schema (as beat fan-out does), the explicit schema_name still decides.
    connection.set_schema_to_public()
    titles_b = survey_titles.delay(schema_name=tenant_b.schema_name).get(timeout=30)
    assert "Only in B" in titles_b
    assert "Only in A" not in titles_b


def test_tenant_task_cannot_be_sent_without_a_tenant_schema():
    with pytest.raises(TenantScopedError, match="needs schema_name"):
        survey_titles.delay()
    with pytest.raises(TenantScopedError):
        survey_titles.delay(schema_name="public")


def test_worker_refuses_a_tenant_task_that_lost_its_schema_header(celery_worker_process, tenant_a):
    """A message whose header says public (lost or forged) is refused, never run against public."""
    result = app.send_task(
        "tenant_apps.surveys.tasks.survey_titles",
        kwargs={"schema_name": tenant_a.schema_name},
        headers={"_schema_name": "public"},
    )
    with pytest.raises(TenantScopedError, match="refused to run"):
        result.get(timeout=30)


def test_worker_refuses_a_header_naming_another_tenant(celery_worker_process, tenant_a, tenant_b):
    result = app.send_task(
        "tenant_apps.surveys.tasks.survey_titles",
        kwargs={"schema_name": tenant_a.schema_name},
        headers={"_schema_name": tenant_b.schema_name},
    )
    with pytest.raises(TenantScopedError, match="refused to run"):
        result.get(timeout=30)


def test_queues_and_routes():
    assert {q.name for q in app.conf.task_queues} == {"high_priority", "analytics", "exports", "notifications"}
    route = app.amqp.router.route({}, "shared_apps.tenants.tasks.tenant_provision")
    assert route["queue"].name == "high_priority"
    assert app.amqp.router.route({}, "tenant_apps.analytics.tasks.refresh")["queue"].name == "analytics"
    assert app.amqp.router.route({}, "tenant_apps.exports.tasks.build")["queue"].name == "exports"
    assert app.amqp.router.route({}, "tenant_apps.notifications.tasks.send")["queue"].name == "notifications"
    # Beat's schedule is collected from what the apps registered (installed when beat starts).
    from config.celery import beat_schedule

    assert "purge-deleted-tenants" in beat_schedule()
    route = app.amqp.router.route({}, "shared_apps.tenants.tasks.signup_verification_email")
    assert route["queue"].name == "notifications"
