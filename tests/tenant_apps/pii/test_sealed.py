"""Personal data at rest: answers to questions flagged ``"pii": true``, the respondent's IP and user agent and
drafts holding such answers are sealed before they are stored; staff without ``submission.view_pii`` see
``[redacted]``; the plain text exists nowhere in the tenant schema (pg_dump), in Redis or in the logs."""

from __future__ import annotations

import copy
import logging
import subprocess
import uuid

from django.conf import settings
from django.db import connection
from django.test import Client
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.responses.models import Answer, DraftCopy, Submission, SubmissionKey
from tenant_apps.responses.services import drafts_sync
from tenant_apps.surveys import services
from tests.conftest import host_of


def pii_definition(flagged: bool = True) -> dict:
    definition = copy.deepcopy(services.DEMO_DEFINITION)
    if flagged:
        for page in definition["pages"]:
            for question in page["questions"]:
                if question["id"] in ("q_name", "q_role", "q_why"):
                    question["pii"] = True
    return definition


def published(tenant, flagged: bool = True):
    with tenant_context(tenant):
        return services.survey_create_published(title="Personal", definition=pii_definition(flagged))


def submit(tenant, survey, answers, **headers):
    client = Client(HTTP_HOST=host_of(tenant), **headers)
    return client.post(f"/api/v1/s/{survey.public_link}/submit/", {"answers": answers}, content_type="application/json")


def pg_dump(schema: str) -> str:
    """The tenant schema's dump, as the superuser (row-level security would hide rows from anyone else)."""
    db = settings.DATABASES["default"]
    return subprocess.run(
        ["pg_dump", "-h", db["HOST"] or "127.0.0.1", "-U", "postgres", "-d", db["NAME"], "-n", schema, "--data-only"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def redis_dump(schema: str) -> bytes:
    redis = get_redis_connection("default")
    out = b""
    for key in redis.scan_iter(match=f"*{schema}*"):
        kind = redis.type(key)
        if kind == b"string":
            out += redis.get(key) or b""
        elif kind == b"set":
            out += b"".join(redis.smembers(key))
        elif kind == b"hash":
            out += b"".join(k + v for k, v in redis.hgetall(key).items())
    return out


def test_marker_answered_to_pii_questions_is_nowhere_in_plain_text(tenant_a, caplog):
    caplog.set_level(logging.DEBUG)
    survey = published(tenant_a)
    marker = f"Zq{uuid.uuid4().hex[:12]}"
    agent = f"Agent-{marker}-ua"
    client = Client(HTTP_HOST=host_of(tenant_a), HTTP_USER_AGENT=agent)
    # A draft first (Redis, then the periodic copy to PostgreSQL), then the submit.
    draft = client.put(
        f"/api/v1/s/{survey.public_link}/draft/",
        {"answers": {"q_name": f"{marker}-draft", "q_role": "__other__", "q_role__other": f"{marker}-other"}},
        content_type="application/json",
    )
    assert draft.status_code == 200, draft.content
    uid, token = draft.json()["submission_id"], draft.json()["token"]
    raw = get_redis_connection("default").get(f"{tenant_a.schema_name}:draft:{uid}") or redis_dump(tenant_a.schema_name)
    assert b"pii1." in raw
    assert marker.encode() not in redis_dump(tenant_a.schema_name)
    with tenant_context(tenant_a):
        drafts_sync()
        copy_row = DraftCopy.objects.get(uid=uid)
        assert copy_row.data["answers"]["q_name"].startswith("pii1.")
    resumed = client.get(f"/api/v1/s/{survey.public_link}/draft/{uid}/?token={token}")
    assert resumed.status_code == 200, resumed.content
    assert resumed.json()["answers"]["q_name"] == f"{marker}-draft"  # the respondent gets their answers back
    assert marker not in pg_dump(tenant_a.schema_name)  # the draft copy is sealed

    answers = {
        "q_name": marker,
        "q_role": "__other__",
        "q_role__other": f"{marker}-other",
        "q_nps": 9,
        "q_why": f"because {marker}",
        "q_features": ["logic"],
    }
    response = client.post(
        f"/api/v1/s/{survey.public_link}/submit/",
        {"answers": answers, "submission_id": uid, "token": token},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert marker in response.json()["text"]  # the respondent's end screen pipes their name
    with tenant_context(tenant_a):
        submission = Submission.objects.get(uid=uid)
        rows = dict(Answer.objects.filter(submission_id=submission.id).values_list("question_id", "value"))
        assert all(rows[q].startswith("pii1.") for q in ("q_name", "q_role", "q_role__other", "q_why"))
        assert rows["q_nps"] == 9  # not flagged: plain, analysable
        role = Answer.objects.get(submission_id=submission.id, question_id="q_role")
        assert role.choices is None
        assert role.number is None
        assert submission.meta["user_agent"].startswith("pii1.")
        assert submission.meta["ip"].startswith("pii1.")
        assert SubmissionKey.objects.get(uid=uid).result["text"].startswith("pii1.")
    dump = pg_dump(tenant_a.schema_name)
    assert "pii1." in dump
    assert marker not in dump
    assert "Agent-" not in dump
    assert marker.encode() not in redis_dump(tenant_a.schema_name)
    assert marker not in caplog.text
    # A retry with the same draft id is recognised (the stored answers are opened to compare).
    again = client.post(
        f"/api/v1/s/{survey.public_link}/submit/",
        {"answers": answers, "submission_id": uid, "token": token},
        content_type="application/json",
    )
    assert again.status_code == 200, again.content
    assert marker in again.json()["text"]


def test_staff_see_redacted_without_view_pii_and_plain_with_it_audited(tenant_a, make_member, api_client_for):
    survey = published(tenant_a)
    marker = f"Zq{uuid.uuid4().hex[:12]}"
    answers = {"q_name": marker, "q_role": "dev", "q_nps": 9, "q_why": "ok"}
    assert submit(tenant_a, survey, answers).status_code == 201
    url = f"/api/v1/surveys/{survey.pk}/submissions/"
    analyst = api_client_for(make_member(tenant_a, role="analyst"), tenant_a)
    body = analyst.get(url).json()["results"][0]
    assert body["answers"]["q_name"] == "[redacted]"
    assert body["answers"]["q_role"] == "[redacted]"
    assert body["answers"]["q_nps"] == 9
    detail = analyst.get(f"{url}{body['id']}/").json()
    assert detail["answers"]["q_name"] == "[redacted]"
    with tenant_context(tenant_a):
        before = AuditEvent.objects.filter(action="pii.decrypted").count()
    admin = api_client_for(make_member(tenant_a, role="admin"), tenant_a)
    body = admin.get(url).json()["results"][0]
    assert body["answers"]["q_name"] == marker
    assert body["answers"]["q_role"] == "dev"
    with tenant_context(tenant_a):
        event = AuditEvent.objects.filter(action="pii.decrypted").order_by("-id").first()
        assert AuditEvent.objects.filter(action="pii.decrypted").count() == before + 1
        assert event is not None
        assert event.changes["values"] >= 3
        assert str(survey.pk) in event.target_id


def test_ciphertext_copied_to_another_row_does_not_open(tenant_a, make_member, api_client_for):
    survey = published(tenant_a)
    first = submit(tenant_a, survey, {"q_name": "Alice", "q_role": "dev", "q_nps": 9}).json()["submission_id"]
    second = submit(tenant_a, survey, {"q_name": "Bob", "q_role": "pm", "q_nps": 9}).json()["submission_id"]
    with tenant_context(tenant_a):
        one, two = (Submission.objects.get(uid=u) for u in (first, second))
        stolen = Answer.objects.get(submission_id=one.id, question_id="q_name").value
        with connection.cursor() as cursor:  # an insider copies Alice's ciphertext onto Bob's row
            cursor.execute(
                "UPDATE responses_answer SET value = to_jsonb(%s::text) WHERE submission_id = %s AND question_id = %s",
                [stolen, two.id, "q_name"],
            )
    admin = api_client_for(make_member(tenant_a, role="admin"), tenant_a)
    by_id = {r["id"]: r for r in admin.get(f"/api/v1/surveys/{survey.pk}/submissions/").json()["results"]}
    assert by_id[first]["answers"]["q_name"] == "Alice"
    assert by_id[second]["answers"]["q_name"] == "[unreadable]"


def test_unflagged_survey_stores_answers_plain_but_respondent_metadata_sealed(tenant_a):
    survey = published(tenant_a, flagged=False)
    response = submit(tenant_a, survey, {"q_name": "Plain", "q_role": "dev", "q_nps": 9}, HTTP_USER_AGENT="UA-x")
    assert response.status_code == 201, response.content
    with tenant_context(tenant_a):
        submission = Submission.objects.get(uid=response.json()["submission_id"])
        assert Answer.objects.get(submission_id=submission.id, question_id="q_name").value == "Plain"
        assert submission.meta["user_agent"].startswith("pii1.")


def test_compiler_refuses_a_pii_flag_that_is_not_a_boolean(tenant_a):
    definition = pii_definition()
    definition["pages"][0]["questions"][0]["pii"] = "yes"
    with tenant_context(tenant_a):
        try:
            services.survey_create_published(title="Bad flag", definition=definition)
        except Exception as exc:  # noqa: BLE001 - ValidationError from the compile step
            assert "'pii' must be true or false" in str(exc)  # noqa: PT017
        else:
            raise AssertionError("a non-boolean pii flag was accepted")


def test_drafts_in_progress_list_is_redacted_without_view_pii(tenant_a, make_member, api_client_for):
    survey = published(tenant_a)
    client = Client(HTTP_HOST=host_of(tenant_a))
    draft = client.put(
        f"/api/v1/s/{survey.public_link}/draft/",
        {"answers": {"q_name": "Ivo", "q_nps": 3}},
        content_type="application/json",
    )
    assert draft.status_code == 200, draft.content
    with tenant_context(tenant_a):
        drafts_sync()
    url = f"/api/v1/surveys/{survey.pk}/submissions/?completion=incomplete"
    analyst = api_client_for(make_member(tenant_a, role="analyst"), tenant_a)
    (row,) = analyst.get(url).json()["results"]
    assert row["answers"] == {"q_name": "[redacted]", "q_nps": 3}
    admin = api_client_for(make_member(tenant_a, role="admin"), tenant_a)
    (row,) = admin.get(url).json()["results"]
    assert row["answers"] == {"q_name": "Ivo", "q_nps": 3}
