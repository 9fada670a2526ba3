"""The survey builder API: documents, pages, questions, choices, revisions, publish/versions, export/import."""

from __future__ import annotations

import copy
import time

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tenant_apps.surveys.models import Publication, Survey, SurveyVersion
from tenant_apps.surveys.services import DEMO_DEFINITION, publication_compile_run
from tenant_apps.surveys.tasks import publication_compile

ALL_TYPES = [
    {"id": "q_short", "type": "short_text", "text": "Name", "min_length": 1, "max_length": 40, "pattern": "^[A-Z]"},
    {"id": "q_long", "type": "long_text", "text": "Story", "max_length": 2000},
    {"id": "q_mail", "type": "email", "text": "Email"},
    {"id": "q_num", "type": "number", "text": "Age", "min": 0, "max": 130},
    {
        "id": "q_single",
        "type": "single_choice",
        "text": "Colour",
        "other": True,
        "randomize_choices": True,
        "choices": [{"id": "red", "text": "Red"}, {"id": "blue", "text": "Blue"}],
    },
    {
        "id": "q_multi",
        "type": "multiple_choice",
        "text": "Pets",
        "min_selections": 1,
        "max_selections": 2,
        "choices": [{"id": "cat", "text": "Cat", "score": 1}, {"id": "dog", "text": "Dog", "score": 2}],
    },
    {"id": "q_drop", "type": "dropdown", "text": "Country", "choices": [{"id": "fr", "text": "France"}]},
    {"id": "q_yes", "type": "yes_no", "text": "Agree?"},
    {"id": "q_rate", "type": "rating", "text": "Rate", "scale": 5},
    {"id": "q_nps", "type": "nps", "text": "Recommend?"},
    {
        "id": "q_matrix",
        "type": "matrix",
        "text": "Grid",
        "multiple": False,
        "rows": [{"id": "speed", "text": "Speed"}],
        "columns": [{"id": "good", "text": "Good"}],
    },
    {
        "id": "q_rank",
        "type": "ranking",
        "text": "Rank",
        "choices": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
    },
    {"id": "q_date", "type": "date", "text": "When", "min_date": "2020-01-01"},
    {"id": "q_file", "type": "file_upload", "text": "CV", "allowed_types": ["pdf"], "max_size_mb": 5},
    {"id": "q_hidden", "type": "hidden", "text": "", "param": "source"},
    {"id": "q_statement", "type": "statement", "text": "Thanks for your time."},
]


@pytest.fixture
def creator(tenant_a, make_member, api_client_for):
    return api_client_for(make_member(tenant_a, "survey_creator"), tenant_a)


def _json(client, method, path, data=None, **headers):
    return getattr(client, method)(path, data, content_type="application/json", **headers)


def _new_survey(client, definition=None):
    body = {"title": "Builder test"}
    if definition is not None:
        body["definition"] = definition
    response = _json(client, "post", "/api/v1/surveys/", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_build_a_survey_with_every_question_type(creator):
    survey = _new_survey(creator)
    sid = survey["id"]
    assert (
        _json(creator, "post", f"/api/v1/surveys/{sid}/pages/", {"id": "p1", "title": "All types"}).status_code == 201
    )
    for question in ALL_TYPES:
        response = _json(creator, "post", f"/api/v1/surveys/{sid}/pages/p1/questions/", question)
        assert response.status_code == 201, (question["id"], response.content)
    detail = creator.get(f"/api/v1/surveys/{sid}/").json()
    assert [q["id"] for q in detail["definition"]["pages"][0]["questions"]] == [q["id"] for q in ALL_TYPES]
    assert detail["revision"] == 1 + 1 + len(ALL_TYPES)
    validation = _json(creator, "post", f"/api/v1/surveys/{sid}/validate/").json()
    assert validation == {"valid": True, "errors": []}


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ({"id": "q1", "type": "telepathy"}, "unknown question type"),
        ({"id": "1bad", "type": "short_text"}, "needs a valid id"),
        ({"id": "q1", "type": "single_choice", "choices": []}, "at least one choice"),
        ({"id": "q1", "type": "single_choice", "choices": [{"id": "a"}, {"id": "a"}]}, "repeated"),
        ({"id": "q1", "type": "number", "min": 10, "max": 1}, "'min' is above 'max'"),
        ({"id": "q1", "type": "short_text", "pattern": "(unclosed"}, "pattern is not supported"),
        ({"id": "q1", "type": "short_text", "pattern": "(?i)case"}, "pattern is not supported"),
        ({"id": "q1", "type": "matrix", "rows": [], "columns": [{"id": "c"}]}, "at least one row"),
        ({"id": "q1", "type": "number", "max_length": -1}, "non-negative number"),
    ],
)
def test_bad_questions_are_rejected_and_nothing_is_written(creator, question, message):
    survey = _new_survey(creator, {"pages": [{"id": "p1", "questions": []}]})
    response = _json(creator, "post", f"/api/v1/surveys/{survey['id']}/pages/p1/questions/", question)
    assert response.status_code == 400
    assert any(message in text for text in response.json()["error"]["details"]["definition"]), response.json()
    after = creator.get(f"/api/v1/surveys/{survey['id']}/").json()
    assert after["revision"] == survey["revision"]
    assert after["definition"] == survey["definition"]


def test_choices_crud_reorder_and_move(creator):
    survey = _new_survey(
        creator,
        {
            "pages": [
                {
                    "id": "p1",
                    "questions": [{"id": "q1", "type": "single_choice", "choices": [{"id": "a", "text": "A"}]}],
                },
                {"id": "p2", "questions": [{"id": "q2", "type": "short_text"}]},
            ]
        },
    )
    sid = survey["id"]
    base = f"/api/v1/surveys/{sid}"
    choices = [{"id": "b", "text": "B"}, {"id": "a", "text": "A, renamed"}, {"id": "c", "text": "C"}]
    assert _json(creator, "patch", f"{base}/questions/q1/", {"choices": choices, "text": "Pick"}).status_code == 200
    assert _json(creator, "post", f"{base}/pages/reorder/", {"order": ["p2", "p1"]}).status_code == 200
    assert _json(creator, "post", f"{base}/questions/q1/move/", {"page": "p2", "position": 0}).status_code == 200
    definition = creator.get(f"{base}/").json()["definition"]
    assert [p["id"] for p in definition["pages"]] == ["p2", "p1"]
    assert [q["id"] for q in definition["pages"][0]["questions"]] == ["q1", "q2"]
    assert definition["pages"][0]["questions"][0]["choices"] == choices
    assert _json(creator, "post", f"{base}/pages/reorder/", {"order": ["p1"]}).status_code == 400
    assert creator.delete(f"{base}/questions/q2/").status_code == 200
    assert creator.delete(f"{base}/pages/p1/").status_code == 200
    assert creator.delete(f"{base}/questions/nope/").status_code == 400
    assert [p["id"] for p in creator.get(f"{base}/").json()["definition"]["pages"]] == ["p2"]


def test_if_match_detects_concurrent_edits(creator):
    survey = _new_survey(creator, {"pages": [{"id": "p1", "questions": []}]})
    etag = creator.get(f"/api/v1/surveys/{survey['id']}/")["ETag"]
    first = _json(creator, "patch", f"/api/v1/surveys/{survey['id']}/pages/p1/", {"title": "Mine"}, HTTP_IF_MATCH=etag)
    assert first.status_code == 200
    stale = _json(
        creator, "patch", f"/api/v1/surveys/{survey['id']}/pages/p1/", {"title": "Theirs"}, HTTP_IF_MATCH=etag
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "revision_conflict"
    assert creator.get(f"/api/v1/surveys/{survey['id']}/").json()["definition"]["pages"][0]["title"] == "Mine"


def test_fetching_a_survey_for_editing_is_a_bounded_number_of_queries(creator):
    small = _new_survey(creator, {"pages": [{"id": "p1", "questions": [ALL_TYPES[0]]}]})
    big = _new_survey(
        creator,
        {
            "pages": [
                {"id": f"p{i}", "questions": [{**q, "id": f"{q['id']}_{i}"} for q in ALL_TYPES]} for i in range(10)
            ]
        },
    )
    creator.get(f"/api/v1/surveys/{small['id']}/")
    counts = []
    for survey in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert creator.get(f"/api/v1/surveys/{survey['id']}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 4  # SET, tenant, SET, the survey (with its version)


def test_duplicate_and_export_import_round_trip_exactly(creator):
    definition = copy.deepcopy(DEMO_DEFINITION)
    original = _new_survey(creator, definition)
    _json(
        creator,
        "patch",
        f"/api/v1/surveys/{original['id']}/",
        {"response_limit": 50, "access": "authenticated", "branding": {"primary": "#123456"}},
    )
    exported = creator.get(f"/api/v1/surveys/{original['id']}/export/").json()
    assert exported["format"] == "survey-platform/v1"
    imported = _json(creator, "post", "/api/v1/surveys/import/", exported)
    assert imported.status_code == 201
    assert creator.get(f"/api/v1/surveys/{imported.json()['id']}/export/").json() == exported
    duplicate = _json(creator, "post", f"/api/v1/surveys/{original['id']}/duplicate/").json()
    assert duplicate["definition"] == definition
    assert duplicate["title"] == "Builder test (copy)"
    assert duplicate["public_link"] != original["public_link"]
    bad = _json(creator, "post", "/api/v1/surveys/import/", {"format": "qualtrics", "definition": {}})
    assert bad.status_code == 400


def _publish(tenant, client, survey_id):
    """Request publication and run the compile step (the task's body) here."""
    response = _json(client, "post", f"/api/v1/surveys/{survey_id}/publish/")
    assert response.status_code == 202, response.content
    with tenant_context(tenant):
        publication = publication_compile_run(publication=Publication.objects.get(pk=response.json()["id"]))
    return client.get(f"/api/v1/surveys/{survey_id}/publications/{publication.pk}/").json()


def test_publish_freezes_versions_and_edits_make_a_new_draft(tenant_a, make_member, api_client_for, creator):
    survey = _new_survey(creator, copy.deepcopy(DEMO_DEFINITION))
    sid = survey["id"]
    publication = _publish(tenant_a, creator, sid)
    assert publication["status"] == "published"
    assert publication["version"] == 1
    detail = creator.get(f"/api/v1/surveys/{sid}/").json()
    assert (detail["status"], detail["current_version"], detail["has_unpublished_changes"]) == ("published", 1, False)

    _json(creator, "patch", f"/api/v1/surveys/{sid}/questions/q_name/", {"text": "Your nickname?"})
    detail = creator.get(f"/api/v1/surveys/{sid}/").json()
    assert detail["has_unpublished_changes"] is True
    assert creator.get(f"/api/v1/surveys/{sid}/versions/1/").json()["definition"] == DEMO_DEFINITION

    assert _publish(tenant_a, creator, sid)["version"] == 2
    versions = creator.get(f"/api/v1/surveys/{sid}/versions/").json()
    assert [v["number"] for v in versions] == [2, 1]
    v1 = creator.get(f"/api/v1/surveys/{sid}/versions/1/").json()["definition"]
    v2 = creator.get(f"/api/v1/surveys/{sid}/versions/2/").json()["definition"]
    assert v1["pages"][0]["questions"][0]["text"] == "What is your first name?"
    assert v2["pages"][0]["questions"][0]["text"] == "Your nickname?"


def test_published_versions_are_immutable_in_the_database(tenant_a, creator):
    survey = _new_survey(creator, copy.deepcopy(DEMO_DEFINITION))
    _publish(tenant_a, creator, survey["id"])
    with tenant_context(tenant_a):
        version = SurveyVersion.objects.get(survey_id=survey["id"], number=1)
        for statement in (
            "UPDATE surveys_surveyversion SET title = 'x' WHERE id = %s",
            "DELETE FROM surveys_surveyversion WHERE id = %s",
        ):
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement, [version.pk])


def test_publish_is_refused_with_errors_naming_the_place(tenant_a, creator):
    broken = {
        "variables": [],
        "end_screens": [],
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {"id": "q_age", "type": "number", "visible_if": {"q": "q_later", "op": "is_answered"}},
                    {"id": "q_later", "type": "single_choice", "choices": [{"id": "a"}]},
                ],
                "rules": [
                    {
                        "id": "r_bad",
                        "when": {"q": "q_later", "op": "equals", "value": "zzz"},
                        "then": [{"type": "skip_to", "page": "p1"}],
                    }
                ],
            }
        ],
    }
    survey = _new_survey(creator, broken)
    publication = _publish(tenant_a, creator, survey["id"])
    assert publication["status"] == "rejected"
    codes = {(e["code"], e["location"].get("question"), e["location"].get("rule")) for e in publication["errors"]}
    assert ("forward_reference", "q_age", None) in codes
    assert ("unknown_choice", None, "r_bad") in codes
    assert ("skip_cycle", None, "r_bad") in codes
    assert creator.get(f"/api/v1/surveys/{survey['id']}/").json()["status"] == "draft"


@pytest.mark.worker
def test_publish_compiles_in_a_real_worker(tenant_a, creator, celery_worker_process):
    survey = _new_survey(creator, copy.deepcopy(DEMO_DEFINITION))
    response = _json(creator, "post", f"/api/v1/surveys/{survey['id']}/publish/")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        publication = creator.get(response["Location"]).json()
        if publication["status"] != "pending":
            break
        time.sleep(0.1)
    assert publication["status"] == "published"
    assert publication["version"] == 1


def test_lifecycle_close_reopen_archive_delete(tenant_a, make_member, api_client_for, creator):
    admin = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    draft = _new_survey(creator, copy.deepcopy(DEMO_DEFINITION))
    assert _json(creator, "post", f"/api/v1/surveys/{draft['id']}/close/").status_code == 400  # not published
    _publish(tenant_a, creator, draft["id"])
    assert _json(creator, "post", f"/api/v1/surveys/{draft['id']}/close/").json()["status"] == "closed"
    assert _json(creator, "post", f"/api/v1/surveys/{draft['id']}/reopen/").json()["status"] == "published"
    assert admin.delete(f"/api/v1/surveys/{draft['id']}/").status_code == 400  # published: archive instead
    assert _json(admin, "post", f"/api/v1/surveys/{draft['id']}/archive/").json()["status"] == "archived"
    edit = _json(creator, "patch", f"/api/v1/surveys/{draft['id']}/questions/q_name/", {"text": "x"})
    assert edit.status_code == 400
    never_published = _new_survey(creator)
    assert admin.delete(f"/api/v1/surveys/{never_published['id']}/").status_code == 204
    with tenant_context(tenant_a):
        assert not Survey.objects.filter(pk=never_published["id"]).exists()


def test_settings_are_validated(creator):
    survey = _new_survey(creator)
    for body in (
        {"response_limit": 0},
        {"access": "everyone"},
        {"opens_at": "2027-01-02T00:00:00Z", "closes_at": "2027-01-01T00:00:00Z"},
        {"opens_at": "soon"},
    ):
        assert _json(creator, "patch", f"/api/v1/surveys/{survey['id']}/", body).status_code == 400, body


def test_cross_tenant_survey_ids_are_404(tenant_a, tenant_b, make_member, api_client_for):
    b_client = api_client_for(make_member(tenant_b, "admin"), tenant_b)
    a_client = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    with tenant_context(tenant_a):
        a_ids = set(Survey.objects.values_list("pk", flat=True))
    b_survey = None
    for _ in range(200):
        created = _new_survey(b_client, copy.deepcopy(DEMO_DEFINITION))
        if created["id"] not in a_ids:
            b_survey = created
            break
    assert b_survey is not None
    sid = b_survey["id"]
    for method, path in (
        ("get", f"/api/v1/surveys/{sid}/"),
        ("patch", f"/api/v1/surveys/{sid}/"),
        ("delete", f"/api/v1/surveys/{sid}/"),
        ("get", f"/api/v1/surveys/{sid}/export/"),
        ("post", f"/api/v1/surveys/{sid}/publish/"),
        ("get", f"/api/v1/surveys/{sid}/versions/"),
        ("post", f"/api/v1/surveys/{sid}/pages/"),
        ("post", f"/api/v1/surveys/{sid}/duplicate/"),
    ):
        response = _json(a_client, method, path, {"id": "px", "title": "x"})
        assert response.status_code == 404, (method, path, response.status_code)
    assert b_survey["public_link"] not in str(a_client.get("/api/v1/surveys/").json())
    assert b_client.get(f"/api/v1/surveys/{sid}/").json()["title"] == "Builder test"


def test_a_publication_compiled_twice_publishes_once(tenant_a, creator):
    """Retried or duplicated tasks (acks_late) must not create two versions."""
    survey = _new_survey(creator, copy.deepcopy(DEMO_DEFINITION))
    response = _json(creator, "post", f"/api/v1/surveys/{survey['id']}/publish/")
    with tenant_context(tenant_a):
        stale_a = Publication.objects.get(pk=response.json()["id"])
        stale_b = Publication.objects.get(pk=response.json()["id"])
        publication_compile_run(publication=stale_a)
        publication_compile_run(publication=stale_b)  # a stale copy still says "pending"
        assert SurveyVersion.objects.filter(survey_id=survey["id"]).count() == 1


# --- diagnostics with every builder write; publications never stay pending ---------------------------------------


def test_every_builder_write_returns_the_current_diagnostics(creator):
    survey = _new_survey(creator)
    sid = survey["id"]
    assert survey["diagnostics"]["valid"] is False
    assert survey["diagnostics"]["errors"][0]["code"] == "empty_survey"
    page = _json(creator, "post", f"/api/v1/surveys/{sid}/pages/", {"id": "p1", "title": "One"})
    assert page.status_code == 201
    question = _json(creator, "post", f"/api/v1/surveys/{sid}/pages/p1/questions/", {"id": "q1", "type": "number"})
    assert question.json()["diagnostics"] == {"valid": True, "errors": []}
    _json(creator, "post", f"/api/v1/surveys/{sid}/pages/", {"id": "p2"})
    broken = _json(
        creator,
        "post",
        f"/api/v1/surveys/{sid}/pages/p2/questions/",
        {"id": "q2", "type": "short_text", "visible_if": {"q": "q1", "op": "gt", "value": "ten"}},
    )
    assert broken.status_code == 201  # drafts stay permissive
    assert broken.json()["diagnostics"] == {
        "valid": False,
        "errors": [
            {
                "code": "type_mismatch",
                "message": "Question q1: 'gt' needs a number.",
                "location": {"page": "p2", "question": "q2", "path": "pages[1].questions[0].visible_if.value"},
            }
        ],
    }
    fixed = _json(creator, "patch", f"/api/v1/surveys/{sid}/questions/q2/", {"visible_if": None})
    assert fixed.json()["diagnostics"]["valid"] is True
    moved = _json(creator, "post", f"/api/v1/surveys/{sid}/questions/q2/move/", {"page": "p1", "position": 0})
    assert moved.status_code == 200
    assert moved.json()["diagnostics"] == {"valid": True, "errors": []}
    for method, path, body in (
        ("patch", f"/api/v1/surveys/{sid}/pages/p1/", {"title": "First"}),
        ("post", f"/api/v1/surveys/{sid}/pages/reorder/", {"order": ["p1", "p2"]}),
        ("put", f"/api/v1/surveys/{sid}/definition/", creator.get(f"/api/v1/surveys/{sid}/").json()["definition"]),
        ("delete", f"/api/v1/surveys/{sid}/pages/p2/", None),
    ):
        response = _json(creator, method, path, body)
        assert response.status_code == 200, (path, response.content)
        assert set(response.json()["diagnostics"]) == {"valid", "errors"}, path
    validate = _json(creator, "post", f"/api/v1/surveys/{sid}/validate/").json()
    assert validate == response.json()["diagnostics"]


def _deeply_nested(levels: int) -> str:
    return '{"pages": [{"id": "p1", "visible_if": ' + '{"not": ' * levels + "{}" + "}" * levels + "}]}"


@pytest.mark.worker
def test_a_publication_whose_task_fails_ends_failed_with_a_reason(tenant_a, creator, celery_worker_process):
    """Here the stored definition cannot even be read by the worker (nested deeper than Python's JSON decoder
    goes): the task fails, and the publication must say so rather than stay pending forever."""
    survey = _new_survey(creator, copy.deepcopy(DEMO_DEFINITION))
    with tenant_context(tenant_a):
        publication = Publication.objects.create(survey_id=survey["id"], revision=1, definition={"pages": []})
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE surveys_publication SET definition = %s::jsonb WHERE id = %s",
                [_deeply_nested(3000), publication.pk],
            )
        publication_compile.delay(schema_name=tenant_a.schema_name, publication_id=publication.pk)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, errors = Publication.objects.filter(pk=publication.pk).values_list("status", "errors").get()
            if status != "pending":
                break
            time.sleep(0.2)
    assert status == "failed"
    assert errors[0]["code"] == "publication_failed"
    assert "internal error" in errors[0]["message"]


@pytest.mark.worker
def test_a_list_value_on_a_multiple_choice_question_publishes_in_the_worker(tenant_a, creator, celery_worker_process):
    """The compiler raised TypeError (unhashable type: 'list') here: the publication stayed pending forever."""
    definition = {
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {"id": "q1", "type": "multiple_choice", "choices": [{"id": "a"}, {"id": "b"}]},
                    {"id": "q2", "type": "short_text", "visible_if": {"q": "q1", "op": "equals", "value": ["b", "a"]}},
                ],
            }
        ]
    }
    survey = _new_survey(creator, definition)
    assert _json(creator, "post", f"/api/v1/surveys/{survey['id']}/validate/").json() == {"valid": True, "errors": []}
    response = _json(creator, "post", f"/api/v1/surveys/{survey['id']}/publish/")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        publication = creator.get(response["Location"]).json()
        if publication["status"] != "pending":
            break
        time.sleep(0.2)
    assert (publication["status"], publication["version"]) == ("published", 1)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"format": "survey-platform/v1", "definition": {"pages": []}}, "title"),
        ({"format": "survey-platform/v1", "title": "  ", "definition": {"pages": []}}, "title"),
        ({"format": "survey-platform/v1", "title": "x" * 301, "definition": {"pages": []}}, "title"),
        ({"format": "survey-platform/v1", "title": "T"}, "definition"),
        ({"format": "survey-platform/v1", "title": "T", "definition": [], "description": 3}, "description"),
    ],
)
def test_an_import_missing_what_its_format_requires_is_refused(creator, document, field):
    """The schema says title and definition are required: an import without them is a 400 naming the field,
    not a survey made up from defaults (found by the schema fuzzer)."""
    response = _json(creator, "post", "/api/v1/surveys/import/", document)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
