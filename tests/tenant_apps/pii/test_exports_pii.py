"""Exports include personal-data columns only for requesters holding ``submission.view_pii`` (opened, audited);
without it the columns are absent. Analytics counts personal-data answers and never shows them."""

from __future__ import annotations

import csv
import io
import time

from django.core.files.storage import default_storage
from django_tenants.utils import tenant_context

from tenant_apps.analytics.services import survey_aggregate
from tenant_apps.audit.models import AuditEvent
from tenant_apps.exports import services as exports
from tenant_apps.exports.models import ExportJob
from tenant_apps.surveys.models import Survey
from tests.tenant_apps.pii.test_sealed import published, submit


def _export(survey: Survey, include_pii: bool) -> list[list[str]]:
    """Requested as the API does: the real worker on the exports queue builds the file."""
    job = exports.export_request(survey=survey, format="csv", include_pii=include_pii)
    deadline = time.monotonic() + 120
    while (job := ExportJob.objects.get(pk=job.pk)).status != ExportJob.Status.READY:
        assert job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING), job.status
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.2)
    with default_storage.open(job.storage_key, "rb") as handle:
        return list(csv.reader(io.StringIO(handle.read().decode("utf-8-sig"))))


def test_export_has_pii_columns_only_with_the_permission(tenant_a, celery_worker_process):
    survey = published(tenant_a)
    assert submit(tenant_a, survey, {"q_name": "Greta", "q_role": "pm", "q_nps": 9, "q_why": "ok"}).status_code == 201
    with tenant_context(tenant_a):
        survey = Survey.objects.get(pk=survey.pk)
        without = _export(survey, include_pii=False)
        before = AuditEvent.objects.filter(action="pii.decrypted").count()
        with_pii = _export(survey, include_pii=True)
        assert AuditEvent.objects.filter(action="pii.decrypted").count() == before + 1
    assert "q_name" not in without[0]
    assert "q_nps" in without[0]
    assert not any("pii1." in cell or "Greta" in cell for row in without for cell in row)
    assert "q_name" in with_pii[0]
    assert with_pii[1][with_pii[0].index("q_name")] == "Greta"
    assert with_pii[1][with_pii[0].index("q_role")] == "pm"


def test_analytics_counts_pii_answers_without_opening_them(tenant_a, make_member, api_client_for):
    survey = published(tenant_a)
    assert submit(tenant_a, survey, {"q_name": "Hanna", "q_role": "dev", "q_nps": 9}).status_code == 201
    with tenant_context(tenant_a):
        survey_aggregate(survey_id=survey.pk)
    admin = api_client_for(make_member(tenant_a, role="admin"), tenant_a)
    body = admin.get(f"/api/v1/surveys/{survey.pk}/analytics/")
    assert body.status_code == 200, body.content
    questions = {q["id"]: q for q in body.json()["questions"]}
    assert questions["q_name"]["answered"] == 1
    assert questions["q_name"]["personal_data"] is True
    assert "choices" not in questions["q_role"]
    assert "Hanna" not in body.content.decode()
    assert "pii1." not in body.content.decode()
