"""Files of personal-data questions: stored sealed; a download link only for ``submission.view_pii``, opened
(and audited) by the download."""

from __future__ import annotations

import copy
import uuid

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import tenant_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.responses.files import file_reference
from tenant_apps.surveys import services
from tests.conftest import host_of


def test_pii_file_is_sealed_at_rest_and_opened_only_for_view_pii(tenant_a, make_member, api_client_for):
    definition = copy.deepcopy(services.DEMO_DEFINITION)
    definition["pages"][0]["questions"].append(
        {"id": "q_id", "type": "file_upload", "text": "Your ID card", "allowed_types": ["txt"], "pii": True}
    )
    with tenant_context(tenant_a):
        survey = services.survey_create_published(title="ID", definition=definition)
    marker = f"passport-{uuid.uuid4().hex}".encode()
    respondent = Client(HTTP_HOST=host_of(tenant_a))
    uploaded = respondent.post(
        f"/api/v1/s/{survey.public_link}/files/", {"question": "q_id", "file": SimpleUploadedFile("id.txt", marker)}
    )
    assert uploaded.status_code == 201, uploaded.content
    file_id = uploaded.json()["file_id"]
    with tenant_context(tenant_a):
        path = file_reference(file_id=file_id, survey_id=survey.pk)["p"]
    with default_storage.open(path, "rb") as handle:
        stored = handle.read()
    assert stored.startswith(b"PII1")
    assert marker not in stored
    submitted = respondent.post(
        f"/api/v1/s/{survey.public_link}/submit/",
        {"answers": {"q_role": "dev", "q_nps": 9, "q_id": {"file_id": file_id}}},
        content_type="application/json",
    )
    assert submitted.status_code == 201, submitted.content

    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    refused = analyst.get(f"/api/v1/surveys/{survey.pk}/files/", {"file_id": file_id})
    assert refused.status_code == 403
    admin = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    link = admin.get(f"/api/v1/surveys/{survey.pk}/files/", {"file_id": file_id})
    assert link.status_code == 200, link.content
    with tenant_context(tenant_a):
        before = AuditEvent.objects.filter(action="pii.decrypted", target_type="file").count()
    download = Client(HTTP_HOST=host_of(tenant_a)).get(link.json()["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == marker
    assert "id.txt" in download["Content-Disposition"]
    with tenant_context(tenant_a):
        assert AuditEvent.objects.filter(action="pii.decrypted", target_type="file").count() == before + 1
