"""Hostile input never reaches PostgreSQL or Redis: every case is a 4xx in the one error shape, naming the field.

Each case below answered 500 (or stored a record that later broke) before the input guard
(shared_apps/core/parsers.py) and the checks at the query/path/token/cursor boundaries.
"""

from __future__ import annotations

import base64
import copy
import json
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context

from tenant_apps.responses.services import draft_key
from tenant_apps.surveys import services
from tests.conftest import host_of

DEEP = "[" * 2000 + "]" * 2000  # 4 KB; json.loads recursion blows up at ~1,000 levels

# Raw JSON texts (json.dumps cannot write most of these): value -> the field the refusal must name.
HOSTILE_VALUES = {
    "nul": '"Ann\\u0000"',
    "lone_surrogate": '"\\ud800"',
    "low_surrogate": '"x\\udc00y"',
    "overflow_float": "1e400",
    "nan": "NaN",
    "infinity": "-Infinity",
    "huge_int": "1" + "0" * 400,
    "deep": DEEP,
}


def _published(tenant):
    with tenant_context(tenant):
        return services.survey_create_published(title="Hostile", definition=copy.deepcopy(services.DEMO_DEFINITION))


@pytest.fixture(scope="module")
def survey(tenant_a):
    return _published(tenant_a)


@pytest.fixture
def staff(tenant_a, make_member, api_client_for):
    return api_client_for(make_member(tenant_a, role="admin"), tenant_a)


def refused(response, field: str, status: int = 400) -> dict:
    """A 4xx in the one error shape whose details name ``field`` (or a path under it)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"], error
    assert error["message"], error
    assert "request_id" in error, error
    names = list(error.get("details", {}))
    assert any(name == field or name.startswith(f"{field}.") for name in names), (field, error)
    return error


def _raw(client: Client, method: str, path: str, text: str | bytes, **extra):
    return getattr(client, method)(path, data=text, content_type="application/json", **extra)


# --- 1, 3, 4: JSON bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(HOSTILE_VALUES))
def test_draft_save_refuses_hostile_answers(tenant_a, survey, case):
    client = Client(HTTP_HOST=host_of(tenant_a))
    body = '{"answers": {"q_name": %s}, "page": "p_about"}' % HOSTILE_VALUES[case]  # noqa: UP031
    refused(_raw(client, "put", f"/api/v1/s/{survey.public_link}/draft/", body), "answers")


@pytest.mark.parametrize("case", sorted(HOSTILE_VALUES))
def test_submit_refuses_hostile_answers(tenant_a, survey, case):
    client = Client(HTTP_HOST=host_of(tenant_a))
    body = '{"answers": {"q_name": %s, "q_role": "dev", "q_nps": 9}}' % HOSTILE_VALUES[case]  # noqa: UP031
    refused(_raw(client, "post", f"/api/v1/s/{survey.public_link}/submit/", body), "answers")


@pytest.mark.parametrize("case", ["nul", "lone_surrogate", "overflow_float", "deep"])
def test_survey_create_and_import_refuse_hostile_definitions(staff, case):
    definition = copy.deepcopy(services.DEMO_DEFINITION)
    text = json.dumps({"title": "Imported", "definition": definition})
    bad = text.replace('"What is your first name?"', HOSTILE_VALUES[case], 1)
    assert bad != text
    refused(_raw(staff, "post", "/api/v1/surveys/", bad), "definition")
    document = json.dumps({"format": services.EXPORT_FORMAT, "title": "Imported", "definition": definition})
    bad_document = document.replace('"What is your first name?"', HOSTILE_VALUES[case], 1)
    refused(_raw(staff, "post", "/api/v1/surveys/import/", bad_document), "definition")


@pytest.mark.parametrize("case", ["nul", "lone_surrogate"])
def test_builder_refuses_hostile_page_titles_and_question_texts(tenant_a, staff, case):
    with tenant_context(tenant_a):
        draft = services.survey_create(
            title="Builder", definition=copy.deepcopy(services.DEMO_DEFINITION), created_by_id=None
        )
    base = f"/api/v1/surveys/{draft.pk}"
    value = HOSTILE_VALUES[case]
    refused(_raw(staff, "post", f"{base}/pages/", '{"id": "p_new", "title": %s}' % value), "title")  # noqa: UP031
    refused(_raw(staff, "patch", f"{base}/pages/p_about/", '{"title": %s}' % value), "title")  # noqa: UP031
    question = '{"id": "q_new", "type": "short_text", "text": %s}' % value  # noqa: UP031
    refused(_raw(staff, "post", f"{base}/pages/p_about/questions/", question), "text")
    refused(_raw(staff, "patch", f"{base}/questions/q_name/", '{"text": %s}' % value), "text")  # noqa: UP031


def test_raw_nul_in_json_text_is_refused(tenant_a, survey):
    client = Client(HTTP_HOST=host_of(tenant_a))
    response = _raw(client, "put", f"/api/v1/s/{survey.public_link}/draft/", '{"answers": {"q_name": "Ann\x00"}}')
    refused(response, "body")


def test_invalid_utf8_body_is_refused(tenant_a, survey):
    client = Client(HTTP_HOST=host_of(tenant_a))
    response = _raw(client, "put", f"/api/v1/s/{survey.public_link}/draft/", b'{"answers": {"q_name": "\xff\xfe"}}')
    refused(response, "body")


def test_too_many_keys_is_refused(tenant_a, survey):
    client = Client(HTTP_HOST=host_of(tenant_a))
    answers = {f"q_{i}": i for i in range(5000)}
    refused(_raw(client, "put", f"/api/v1/s/{survey.public_link}/draft/", json.dumps({"answers": answers})), "answers")


def test_multipart_field_with_nul_is_refused(tenant_a, survey):
    client = Client(HTTP_HOST=host_of(tenant_a))
    response = client.post(
        f"/api/v1/s/{survey.public_link}/files/",
        {"question": "q\x00name", "file": ("a.txt", b"hello")},
    )
    refused(response, "question")


def test_form_bodies_never_reach_a_json_endpoint(tenant_a):
    """No parser reads a url-encoded body (NUL or not): the JSON API answers 415 in the one shape."""
    client = Client(HTTP_HOST=host_of(tenant_a))
    response = client.post(
        "/api/v1/auth/token/",
        urlencode({"email": "a\x00@example.test", "password": "x"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


# --- 3, 7: URL path segments and query values ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/s/%00/",
        "/api/v1/s/a%00b/draft/",
        "/s/a%00b",
        "/api/v1/files/%00",
    ],
)
def test_nul_in_path_segments_is_refused(tenant_a, path):
    client = Client(HTTP_HOST=host_of(tenant_a))
    refused(client.get(path), "path")


def test_nul_in_builder_path_segments_is_refused(tenant_a, staff):
    with tenant_context(tenant_a):
        draft = services.survey_create(
            title="Path", definition=copy.deepcopy(services.DEMO_DEFINITION), created_by_id=None
        )
    refused(_raw(staff, "patch", f"/api/v1/surveys/{draft.pk}/pages/p%00/", '{"title": "x"}'), "path")
    refused(_raw(staff, "patch", f"/api/v1/surveys/{draft.pk}/questions/q%00/", '{"text": "x"}'), "path")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("answer=q_nps:1e999", "answer"),
        ("answer=q_nps:NaN", "answer"),
        ("answer=q_nps:-Infinity", "answer"),
        ("answer=q_name:%00", "answer"),
        ("answer=q_nps:" + quote("[" * 100 + "]" * 100), "answer"),
        ("since=99999-01-01", "since"),
        ("until=0001-01-01T00:00:00%2B05:00", "until"),
    ],
)
def test_submission_filters_refuse_hostile_values(tenant_a, staff, survey, query, field):
    refused(staff.get(f"/api/v1/surveys/{survey.pk}/submissions/?{query}"), field)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("actor_id=99999999999999999999", "actor_id"),
        ("target_id=%00", "target_id"),
        ("since=99999-01-01", "since"),
    ],
)
def test_audit_filters_refuse_hostile_values(staff, query, field):
    refused(staff.get(f"/api/v1/audit/?{query}"), field)


def test_integer_path_segment_beyond_bigint_is_not_a_500(staff):
    response = staff.get("/api/v1/surveys/99999999999999999999/")
    assert response.status_code == 404, response.content


# --- 5: tokens and cursors --------------------------------------------------------------------------


def _cursor(position: str) -> str:
    return base64.b64encode(f"p={position}".encode()).decode()


@pytest.mark.parametrize("position", ["not-a-date", "99999-01-01", "\x00", "2026-13-45T99:00:00"])
@pytest.mark.parametrize(
    "path", ["/api/v1/surveys/{pk}/submissions/", "/api/v1/surveys/{pk}/submissions/?completion=incomplete"]
)
def test_crafted_submission_cursors_are_refused(staff, survey, position, path):
    url = path.format(pk=survey.pk)
    sep = "&" if "?" in url else "?"
    error = refused(staff.get(f"{url}{sep}cursor={quote(_cursor(position))}"), "cursor")
    assert error["code"] == "invalid_cursor"


@pytest.mark.parametrize("position", ["not-a-date", "\x00", "99999-01-01"])
@pytest.mark.parametrize("path", ["/api/v1/audit/", "/api/v1/members/"])
def test_crafted_cursors_on_staff_lists_are_refused(staff, position, path):
    error = refused(staff.get(f"{path}?cursor={quote(_cursor(position))}"), "cursor")
    assert error["code"] == "invalid_cursor"


def test_garbage_cursor_is_a_400_not_a_404(staff):
    error = refused(staff.get("/api/v1/members/?cursor=%%%not-base64"), "cursor")
    assert error["code"] == "invalid_cursor"


def _draft(tenant, survey) -> dict:
    client = Client(HTTP_HOST=host_of(tenant))
    response = client.put(
        f"/api/v1/s/{survey.public_link}/draft/", {"answers": {"q_name": "Ann"}}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("token", ["1999999999.é", "1999999999.\u202e", "١٢٣.abc", "99999999999999999999.x"])
def test_non_ascii_resume_tokens_are_refused(tenant_a, survey, token):
    saved = _draft(tenant_a, survey)
    client = Client(HTTP_HOST=host_of(tenant_a))
    url = f"/api/v1/s/{survey.public_link}/draft/{saved['submission_id']}/"
    response = client.get(url, {"token": token})
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "invalid_token"
    body = {"answers": {"q_name": "Bo"}, "submission_id": saved["submission_id"], "token": token}
    response = client.put(f"/api/v1/s/{survey.public_link}/draft/", body, content_type="application/json")
    assert response.status_code == 403, response.content
    response = client.post(f"/api/v1/s/{survey.public_link}/submit/", body, content_type="application/json")
    assert response.status_code == 403, response.content


@pytest.mark.parametrize("token", ["é", "x" * 5000, "a:b:c", "%C3%A9"])
def test_crafted_download_tokens_are_refused(tenant_a, token):
    client = Client(HTTP_HOST=host_of(tenant_a))
    response = client.get(f"/api/v1/files/{quote(token)}")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "invalid_link"


@pytest.mark.parametrize("token", ["é", "\u202eabc", "x" * 1000])
def test_crafted_invitation_and_reset_tokens_are_refused(tenant_a, token):
    client = Client(HTTP_HOST=host_of(tenant_a))
    response = client.post(
        "/api/v1/invitations/accept/", {"token": token, "password": "x" * 12}, content_type="application/json"
    )
    assert 400 <= response.status_code < 500, response.content
    response = client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"uid": token[:64], "token": token[:128], "new_password": "correct-horse-battery"},
        content_type="application/json",
    )
    assert 400 <= response.status_code < 500, response.content


# --- 3: a draft with a non-finite number can no longer be saved, and an old one does not break resume ----


def test_resume_of_an_unreadable_old_draft_is_a_4xx(tenant_a, survey):
    saved = _draft(tenant_a, survey)
    key = draft_key(tenant_a.schema_name, saved["submission_id"])
    redis = get_redis_connection("default")
    record = json.loads(redis.get(key))
    raw = json.dumps(record).replace('"Ann"', "Infinity")  # as an older version wrote 1e400
    redis.set(key, raw, ex=3600)
    client = Client(HTTP_HOST=host_of(tenant_a))
    response = client.get(f"/api/v1/s/{survey.public_link}/draft/{saved['submission_id']}/", {"token": saved["token"]})
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"]["code"] == "draft_unreadable"


# --- 7: the rest of the class: integers beyond the column, dates that do not exist --------------------


def test_response_limit_beyond_the_column_is_refused(tenant_a, staff):
    refused(
        staff.post("/api/v1/surveys/", {"title": "Big", "response_limit": 2**40}, content_type="application/json"),
        "response_limit",
    )
    with tenant_context(tenant_a):
        draft = services.survey_create(title="Limit", definition={"pages": []}, created_by_id=None)
    response = staff.patch(f"/api/v1/surveys/{draft.pk}/", {"response_limit": 2**40}, content_type="application/json")
    refused(response, "response_limit")


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"opens_at": "2026-13-45T00:00:00Z"}, "opens_at"),
        ({"opens_at": 5}, "opens_at"),
        ({"response_limit": 2**40}, "response_limit"),
        ({"response_limit": "many"}, "response_limit"),
    ],
)
def test_import_refuses_settings_that_do_not_fit(staff, settings, field):
    document = {
        "format": services.EXPORT_FORMAT,
        "title": "Imported",
        "settings": settings,
        "definition": {"pages": []},
    }
    refused(staff.post("/api/v1/surveys/import/", document, content_type="application/json"), field)


@pytest.mark.parametrize("token", ["é", "\u202e", "a.b.c", "x" * 10_000, "eyJhbGciOiJIUzI1NiJ9.e30.\u00ff"])
def test_crafted_bearer_and_refresh_tokens_are_refused(tenant_a, token):
    header = f"Bearer {token}".encode().decode("latin-1")  # as a WSGI server hands over UTF-8 header bytes
    client = Client(HTTP_HOST=host_of(tenant_a), HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401, response.content
    response = Client(HTTP_HOST=host_of(tenant_a)).post(
        "/api/v1/auth/token/refresh/", {"refresh": token}, content_type="application/json"
    )
    assert 400 <= response.status_code < 500, response.content


def test_upload_file_name_with_nul_is_refused(tenant_a, survey):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = Client(HTTP_HOST=host_of(tenant_a))
    upload = SimpleUploadedFile("report\x00.txt", b"hello", content_type="text/plain")
    response = client.post(f"/api/v1/s/{survey.public_link}/files/", {"question": "q_name", "file": upload})
    assert 400 <= response.status_code < 500, response.content


def test_json_body_over_the_limit_is_a_413_naming_the_body(tenant_a, survey):
    client = Client(HTTP_HOST=host_of(tenant_a))
    body = json.dumps({"answers": {"q_name": "x" * (3 * 1024 * 1024)}})
    error = refused(_raw(client, "put", f"/api/v1/s/{survey.public_link}/draft/", body), "body", status=413)
    assert error["code"] == "payload_too_large"
