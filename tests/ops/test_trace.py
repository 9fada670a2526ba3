"""The request id travels from the web request into the task it enqueues (a Celery message header) and is
restored in the real worker: the audit entry the task writes carries the request's id."""

from __future__ import annotations

import time

import pytest
from django_tenants.utils import tenant_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.surveys.models import Publication

pytestmark = pytest.mark.worker


def test_request_id_reaches_the_task_it_enqueues(tenant_a, make_member, api_client_for, celery_worker_process):
    creator = api_client_for(make_member(tenant_a, "survey_creator"), tenant_a)
    created = creator.post("/api/v1/surveys/", {"title": "Traced"}, content_type="application/json")
    assert created.status_code == 201, created.content
    survey_id = created.json()["id"]
    response = creator.post(
        f"/api/v1/surveys/{survey_id}/publish/", {}, content_type="application/json", HTTP_X_REQUEST_ID="trace-me-0001"
    )
    assert response.status_code == 202, response.content
    deadline = time.monotonic() + 30
    with tenant_context(tenant_a):
        while Publication.objects.get(pk=response.json()["id"]).status == Publication.Status.PENDING:
            assert time.monotonic() < deadline, "the worker did not compile the publication"
            time.sleep(0.2)
        # The worker's audit entry: published, or rejected (the empty survey has no questions to compile).
        published = AuditEvent.objects.get(
            action__in=["survey.published", "survey.publish_rejected"], target_id=survey_id
        )
        requested = AuditEvent.objects.filter(target_id=survey_id, target_type="survey").exclude(pk=published.pk)
    assert published.request_id == "trace-me-0001"  # written by the worker, inside the task
    assert published.channel == "task"
    assert "trace-me-0001" in set(requested.values_list("request_id", flat=True))
