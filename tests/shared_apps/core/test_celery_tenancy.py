"""A real Celery worker on Redis runs tenant tasks in the schema they name, and only there."""

from __future__ import annotations

import copy

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from config.celery import app
from shared_apps.core.tasks import TenantScopedError
from tenant_apps.surveys.models import Publication
from tenant_apps.surveys.services import DEMO_DEFINITION, survey_create
from tenant_apps.surveys.tasks import publication_compile

pytestmark = pytest.mark.worker
TASK = "tenant_apps.surveys.tasks.publication_compile"


def _pending_publication(tenant) -> Publication:
    """A publish request in ``tenant`` that no task has been sent for yet."""
    with tenant_context(tenant):
        survey = survey_create(title="Only in A", created_by_id=None, definition=copy.deepcopy(DEMO_DEFINITION))
        return Publication.objects.create(survey=survey, revision=survey.revision, definition=survey.definition)


def _status(tenant, publication: Publication) -> str:
    with tenant_context(tenant):
        return Publication.objects.get(pk=publication.pk).status


def test_task_acts_on_the_named_tenants_data_only(celery_worker_process, tenant_a, tenant_b):
    publication = _pending_publication(tenant_a)

    # Sent from the public schema (as beat fan-out does) naming tenant B: A's request is out of its reach.
    connection.set_schema_to_public()
    publication_compile.delay(schema_name=tenant_b.schema_name, publication_id=publication.pk).get(timeout=30)
    assert _status(tenant_a, publication) == Publication.Status.PENDING

    assert (
        publication_compile.delay(schema_name=tenant_a.schema_name, publication_id=publication.pk).get(timeout=30)
        == Publication.Status.PUBLISHED
    )
    assert _status(tenant_a, publication) == Publication.Status.PUBLISHED


def test_tenant_task_cannot_be_sent_without_a_tenant_schema():
    with pytest.raises(TenantScopedError, match="needs schema_name"):
        publication_compile.delay(publication_id=1)
    with pytest.raises(TenantScopedError):
        publication_compile.delay(schema_name="public", publication_id=1)


def test_worker_refuses_a_tenant_task_that_lost_its_schema_header(celery_worker_process, tenant_a):
    """A message whose header says public (lost or forged) is refused, never run against public."""
    publication = _pending_publication(tenant_a)
    result = app.send_task(
        TASK,
        kwargs={"schema_name": tenant_a.schema_name, "publication_id": publication.pk},
        headers={"_schema_name": "public"},
    )
    with pytest.raises(TenantScopedError, match="refused to run"):
        result.get(timeout=30)
    assert _status(tenant_a, publication) == Publication.Status.PENDING


def test_worker_refuses_a_header_naming_another_tenant(celery_worker_process, tenant_a, tenant_b):
    publication = _pending_publication(tenant_a)
    result = app.send_task(
        TASK,
        kwargs={"schema_name": tenant_a.schema_name, "publication_id": publication.pk},
        headers={"_schema_name": tenant_b.schema_name},
    )
    with pytest.raises(TenantScopedError, match="refused to run"):
        result.get(timeout=30)
    assert _status(tenant_a, publication) == Publication.Status.PENDING


def test_queues_and_routes():
    queues = {q.name for q in app.conf.task_queues}
    assert queues == {"high_priority", "analytics", "exports", "notifications", "webhooks"}
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
