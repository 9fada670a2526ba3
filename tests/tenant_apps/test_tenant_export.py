"""The organisation's portability export: one zip of JSON and CSV, built by a task into storage."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import zipfile

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.privacy.models import TenantExport
from tenant_apps.responses.models import Submission
from tenant_apps.responses.services import submission_soft_delete
from tests.conftest import host_of
from tests.factories import SurveyFactory

E = "/api/v1/privacy/exports/"


def _submit(tenant, survey, name: str) -> str:
    response = Client(HTTP_HOST=host_of(tenant)).post(
        f"/api/v1/s/{survey.public_link}/submit/",
        {"answers": {"q_role": "dev", "q_nps": 9, "q_name": name}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["submission_id"]


@pytest.fixture
def populated(make_tenant):
    tenant = make_tenant()
    surveys = [SurveyFactory(tenant=tenant, published=True) for _ in range(2)]
    uids = [_submit(tenant, surveys[i % 2], f"N{i}") for i in range(5)]
    with tenant_context(tenant):
        gone = Submission.objects.get(uid=uids[0])
        submission_soft_delete(submission_id=gone.pk, survey_id=gone.survey_id)
    return tenant, surveys, uids


def _check_archive(data: bytes, uids: list[str]) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        for name, digest in manifest["files"].items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
        submissions = json.loads(archive.read("submissions.json"))
        assert {s["uid"] for s in submissions} == set(uids[1:])  # the soft-deleted one is not exported
        rows = list(csv.DictReader(io.StringIO(archive.read("answers.csv").decode())))
        assert {r["value"] for r in rows if r["question_id"] == "q_name"} == {f'"N{i}"' for i in range(1, 5)}
        members = archive.read("members.json").decode() + archive.read("members.csv").decode()
        assert "password" not in members
        assert "pbkdf2" not in members
        assert json.loads(archive.read("members.json"))[0]["email"]
        assert len(json.loads(archive.read("surveys.json"))) >= 2
    return manifest


@pytest.mark.worker
def test_api_builds_the_archive_on_the_worker(populated, make_member, api_client_for, celery_worker_process):
    tenant, _surveys, uids = populated
    client = api_client_for(make_member(tenant, "admin"), tenant)
    response = client.post(E, content_type="application/json")
    assert response.status_code == 202, response.content
    export_id = response.json()["id"]
    again = client.post(E, content_type="application/json")  # one at a time
    assert again.status_code in {202, 409}
    if again.status_code == 409:
        assert again.json()["error"]["code"] == "tenant_export_refused"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = client.get(f"{E}{export_id}/").json()
        if body["status"] in {"ready", "failed"}:
            break
        time.sleep(0.3)
    assert body["status"] == "ready", body
    assert body["counts"]["submissions"] == 4
    download = client.get(body["download_url"])
    assert download.status_code == 200
    manifest = _check_archive(b"".join(download.streaming_content), uids)
    assert manifest["counts"]["submissions"] == 4
    with tenant_context(tenant):
        actions = set(AuditEvent.objects.filter(target_id=str(export_id)).values_list("action", flat=True))
    assert {"tenant_export.requested", "tenant_export.completed"} <= actions


def test_cli_writes_the_archive(populated, tmp_path, capsys):
    tenant, _surveys, uids = populated
    out = tmp_path / "export.zip"
    call_command("export_tenant", tenant.slug, "--output", str(out))
    assert "submissions=4" in capsys.readouterr().out
    _check_archive(out.read_bytes(), uids)


def test_a_running_export_refuses_a_second_one_in_the_error_shape(make_tenant, make_member, api_client_for):
    tenant = make_tenant()
    with tenant_context(tenant):
        TenantExport.objects.create(
            status="running", created_at=timezone.now(), expires_at=timezone.now() + timezone.timedelta(days=1)
        )
    client = api_client_for(make_member(tenant, "admin"), tenant)
    response = client.post(E, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "tenant_export_refused"
    assert client.get(f"{E}not-a-number/").status_code == 404
    assert client.get(f"{E}999999999/").json()["error"]["code"]


def test_another_tenants_export_is_not_found(populated, tenant_b, make_member, api_client_for):
    tenant, _surveys, _uids = populated
    with tenant_context(tenant):
        export = TenantExport.objects.create(
            status="failed", created_at=timezone.now(), expires_at=timezone.now() + timezone.timedelta(days=1)
        )
    client_b = api_client_for(make_member(tenant_b, "admin"), tenant_b)
    assert client_b.get(f"{E}{export.pk}/").status_code == 404
    assert export.pk not in {e["id"] for e in client_b.get(E).json()["results"]}
