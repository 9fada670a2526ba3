"""Data-subject requests: access and erasure by e-mail or respondent key across a tenant's surveys."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context

from shared_apps.core.cache import tenant_key
from tenant_apps.analytics.services import survey_aggregate
from tenant_apps.audit.models import AuditEvent
from tenant_apps.privacy.models import SubjectRequest
from tenant_apps.responses.models import DraftCopy, SubmissionKey
from tenant_apps.surveys.models import Survey
from tenant_apps.surveys.services import DEMO_DEFINITION
from tests.conftest import host_of
from tests.factories import SurveyFactory

R = "/api/v1/privacy/requests/"


def _definition() -> dict[str, Any]:
    definition = copy.deepcopy(DEMO_DEFINITION)
    definition["pages"][0]["questions"].append({"id": "q_email", "type": "email", "text": "Your e-mail?"})
    return definition


def _submit(tenant, survey, answers, key: str | None = None) -> str:
    headers = {"HTTP_X_RESPONDENT_KEY": key} if key else {}
    response = Client(HTTP_HOST=host_of(tenant)).post(
        f"/api/v1/s/{survey.public_link}/submit/",
        {"answers": {"q_role": "dev", "q_nps": 9, **answers}},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201, response.content
    return response.json()["submission_id"]


def _draft(tenant, survey, answers) -> str:
    response = Client(HTTP_HOST=host_of(tenant)).put(
        f"/api/v1/s/{survey.public_link}/draft/", {"answers": answers}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()["submission_id"]


def _submission_uids(tenant, survey) -> set[str]:
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT uid::text FROM responses_submission WHERE survey_id = %s", [survey.pk])
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def world(make_tenant) -> dict[str, Any]:
    """A tenant with two surveys: the subject answered one by e-mail and one under a respondent key, left
    a draft with their e-mail, and another respondent answered both."""
    tenant = make_tenant()
    email = f"Subject-{uuid.uuid4().hex[:6]}@Example.test"
    key = f"device-{uuid.uuid4().hex}"
    by_email = SurveyFactory(tenant=tenant, definition=_definition(), published=True)
    by_key = SurveyFactory(tenant=tenant, published=True, one_response_per_respondent=True)
    mine = [
        _submit(tenant, by_email, {"q_email": email.lower(), "q_name": "Sub"}),
        _submit(tenant, by_key, {"q_name": "Sub"}, key=key),
    ]
    others = [
        _submit(tenant, by_email, {"q_email": "other@example.test", "q_name": "Oth"}),
        _submit(tenant, by_key, {"q_name": "Oth"}, key=f"device-{uuid.uuid4().hex}"),
    ]
    draft = _draft(tenant, by_email, {"q_email": email, "q_name": "Sub"})
    other_draft = _draft(tenant, by_email, {"q_email": "other@example.test"})
    return {
        "tenant": tenant,
        "email": email,
        "key": key,
        "surveys": (by_email, by_key),
        "mine": mine,
        "others": others,
        "draft": draft,
        "other_draft": other_draft,
    }


def test_access_returns_everything_held_across_surveys(world, make_member, api_client_for):
    tenant = world["tenant"]
    client = api_client_for(make_member(tenant, "admin"), tenant)
    response = client.post(
        R, {"kind": "access", "email": world["email"], "respondent_key": world["key"]}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    document = body["document"]
    assert {s["uid"] for s in document["submissions"]} == set(world["mine"])
    assert {s["survey_id"] for s in document["submissions"]} == {s.pk for s in world["surveys"]}
    assert any(s["answers"].get("q_email") == world["email"].lower() for s in document["submissions"])
    assert [d["id"] for d in document["drafts"]] == [world["draft"]]
    receipt = body["receipt"]
    assert receipt["counts"]["submissions"] == 2
    assert receipt["counts"]["drafts"] == 1
    assert len(receipt["receipt_hash"]) == 64
    with tenant_context(tenant):
        stored = SubjectRequest.objects.get(pk=receipt["id"])
        assert stored.receipt_hash == receipt["receipt_hash"]
        assert world["email"].lower() not in json.dumps(stored.counts) + stored.subject_digest
        event = AuditEvent.objects.get(pk=receipt["audit_event_id"])
        assert event.action == "privacy.access"
        assert event.changes["receipt_hash"] == receipt["receipt_hash"]
    # Nothing was deleted by an access request.
    assert set(world["mine"]) <= _submission_uids(tenant, world["surveys"][0]) | _submission_uids(
        tenant, world["surveys"][1]
    )
    detail = client.get(f"{R}{receipt['id']}/")
    assert detail.status_code == 200
    assert detail.json()["receipt_hash"] == receipt["receipt_hash"]


def test_erasure_deletes_rows_drafts_and_adjusts_aggregates(world, make_member, api_client_for):
    tenant = world["tenant"]
    by_email, by_key = world["surveys"]
    with tenant_context(tenant):
        for survey in world["surveys"]:
            survey_aggregate(survey_id=survey.pk)
    client = api_client_for(make_member(tenant, "admin"), tenant)
    before = client.get(f"/api/v1/surveys/{by_email.pk}/analytics/").json()
    response = client.post(
        R, {"kind": "erase", "email": world["email"], "respondent_key": world["key"]}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    receipt = response.json()["receipt"]
    assert receipt["counts"]["submissions"] == 2
    assert receipt["counts"]["answers"] >= 4
    assert receipt["counts"]["drafts"] == 1
    assert receipt["counts"]["surveys_recomputed"] == 2
    remaining = _submission_uids(tenant, by_email) | _submission_uids(tenant, by_key)
    assert remaining.isdisjoint(world["mine"])
    assert set(world["others"]) <= remaining
    schema = tenant.schema_name
    redis = get_redis_connection("default")
    assert redis.get(tenant_key(schema, "draft", world["draft"])) is None
    assert redis.get(tenant_key(schema, "draft", world["other_draft"])) is not None
    with tenant_context(tenant):
        assert not SubmissionKey.objects.filter(uid__in=world["mine"]).exists()
        assert not DraftCopy.objects.filter(uid=world["draft"]).exists()
        assert Survey.objects.get(pk=by_email.pk).response_count == 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM responses_answer WHERE value #>> '{}' = %s", [world["email"].lower()])
            assert cursor.fetchone()[0] == 0
        assert AuditEvent.objects.get(pk=receipt["audit_event_id"]).action == "privacy.erase"
    after = client.get(f"/api/v1/surveys/{by_email.pk}/analytics/").json()
    assert before["totals"]["responses"] == 2
    assert after["totals"]["responses"] == 1
    assert after["totals"]["unique_respondents"] == 1
    # A second access finds nothing left.
    again = client.post(R, {"kind": "access", "email": world["email"]}, content_type="application/json").json()
    assert again["receipt"]["counts"]["submissions"] == 0
    assert again["document"]["drafts"] == []


def test_cli_access_and_erase(world, tmp_path, capsys):
    tenant = world["tenant"]
    out = tmp_path / "subject.json"
    call_command("dsr", tenant.slug, "access", "--respondent-key", world["key"], "--output", str(out))
    document = json.loads(out.read_text())
    assert [s["uid"] for s in document["submissions"]] == [world["mine"][1]]
    assert "receipt:" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--yes"):
        call_command("dsr", tenant.slug, "erase", "--email", world["email"])
    with pytest.raises(CommandError, match="valid e-mail"):
        call_command("dsr", tenant.slug, "erase", "--email", "not-an-email", "--yes")
    call_command("dsr", tenant.slug, "erase", "--email", world["email"], "--yes")
    receipt = json.loads(capsys.readouterr().out.split("receipt: ", 1)[1])
    assert receipt["counts"]["submissions"] == 1  # the keyed submission has no e-mail link
    with tenant_context(tenant):
        event = AuditEvent.objects.get(pk=receipt["audit_event_id"])
        assert (event.channel, event.action) == ("cli", "privacy.erase")


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "access"},
        {"kind": "erase", "email": "", "respondent_key": ""},
        {"kind": "erase", "email": "not an email"},
        {"kind": "access", "respondent_key": "short"},
        {"kind": "access", "respondent_key": "bad key with spaces"},
        {"kind": "delete", "email": "a@b.test"},
        {"kind": ["access"], "email": "a@b.test"},
        {"kind": "access", "email": "x" * 300 + "@b.test"},
    ],
)
def test_bad_requests_get_400_in_the_common_shape(tenant_a, make_member, api_client_for, body):
    client = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    with tenant_context(tenant_a):
        before = SubjectRequest.objects.count()
    response = client.post(R, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]) >= {"code", "message"}
    with tenant_context(tenant_a):
        assert SubjectRequest.objects.count() == before


def test_other_tenants_subjects_and_receipts_are_out_of_reach(world, tenant_b, make_member, api_client_for):
    tenant = world["tenant"]
    # The same e-mail answered a survey in tenant B: an erasure in the subject's tenant leaves it alone.
    survey_b = SurveyFactory(tenant=tenant_b, definition=_definition(), published=True)
    uid_b = _submit(tenant_b, survey_b, {"q_email": world["email"].lower()})
    client_b = api_client_for(make_member(tenant_b, "admin"), tenant_b)
    client_a = api_client_for(make_member(tenant, "admin"), tenant)
    erased = client_a.post(R, {"kind": "erase", "email": world["email"]}, content_type="application/json")
    assert erased.status_code == 201
    assert uid_b in _submission_uids(tenant_b, survey_b)
    receipt_id = erased.json()["receipt"]["id"]
    assert client_b.get(f"{R}{receipt_id}/").status_code == 404
    assert receipt_id not in {r["id"] for r in client_b.get(R).json()["results"]}
    # Tenant A's token is refused on tenant B's host.
    foreign = Client(HTTP_HOST=host_of(tenant_b), HTTP_AUTHORIZATION=f"Bearer {client_a.tokens['access']}")
    refused = foreign.post(R, {"kind": "access", "email": world["email"]}, content_type="application/json")
    assert refused.status_code == 401, refused.content


def test_erasure_removes_the_subjects_uploaded_files(make_tenant, make_member, api_client_for):
    from django.core import signing
    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tenant_apps.responses.files import FILE_SALT

    tenant = make_tenant()
    definition = _definition()
    definition["pages"][0]["questions"].append({"id": "q_cv", "type": "file_upload", "text": "CV"})
    survey = SurveyFactory(tenant=tenant, definition=definition, published=True)
    respondent = Client(HTTP_HOST=host_of(tenant))
    uploaded = respondent.post(
        f"/api/v1/s/{survey.public_link}/files/", {"question": "q_cv", "file": SimpleUploadedFile("cv.txt", b"me")}
    )
    assert uploaded.status_code == 201, uploaded.content
    file_id = uploaded.json()["file_id"]
    path = signing.loads(file_id, salt=FILE_SALT)["p"]
    _submit(tenant, survey, {"q_email": "cv-owner@example.test", "q_cv": {"file_id": file_id}})
    assert default_storage.exists(path)
    client = api_client_for(make_member(tenant, "admin"), tenant)
    response = client.post(R, {"kind": "erase", "email": "cv-owner@example.test"}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["receipt"]["counts"]["files"] == 1
    assert not default_storage.exists(path)
