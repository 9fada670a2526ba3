"""Respondents: Redis drafts with signed resume, validated idempotent submits, exact limits, partitions."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context

from tenant_apps.responses.models import Answer, DraftCopy, Submission, SubmissionKey
from tenant_apps.responses.services import draft_key, drafts_sync, unique_respondents
from tenant_apps.surveys import services
from tenant_apps.surveys.models import Publication, Survey
from tests.conftest import host_of

GOOD = {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "Fast", "q_features": ["logic", "analytics"]}


def _published(tenant, **settings):
    with tenant_context(tenant):
        return services.survey_create_published(
            title="Respond", definition=copy.deepcopy(services.DEMO_DEFINITION), **settings
        )


def _client(tenant, **headers):
    return Client(HTTP_HOST=host_of(tenant), **headers)


def _put(client, survey, body):
    return client.put(f"/api/v1/s/{survey.public_link}/draft/", body, content_type="application/json")


def _submit(client, survey, body, **headers):
    return client.post(f"/api/v1/s/{survey.public_link}/submit/", body, content_type="application/json", **headers)


def test_draft_save_goes_to_redis_only_and_resumes(tenant_a):
    survey = _published(tenant_a)
    client = _client(tenant_a)
    _put(client, survey, {"answers": {}, "page": "p_about"})  # warm caches
    with CaptureQueriesContext(connection) as queries:
        first = _put(client, survey, {"answers": {"q_name": "Ann"}, "page": "p_about"})
    assert first.status_code == 200, first.content
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]
    saved = first.json()
    assert saved["resume_url"].startswith(f"/s/{survey.public_link}?r=")
    second = _put(
        client,
        survey,
        {
            "answers": {"q_name": "Ann", "q_role": "pm"},
            "page": "p_score",
            "submission_id": saved["submission_id"],
            "token": saved["token"],
        },
    )
    assert second.status_code == 200
    other_device = _client(tenant_a)
    resumed = other_device.get(
        f"/api/v1/s/{survey.public_link}/draft/{saved['submission_id']}/", {"token": saved["token"]}
    )
    assert resumed.status_code == 200
    assert resumed.json()["answers"] == {"q_name": "Ann", "q_role": "pm"}
    assert resumed.json()["page"] == "p_score"
    ttl = get_redis_connection("default").ttl(draft_key(tenant_a.schema_name, saved["submission_id"]))
    assert 6 * 86400 < ttl <= 7 * 86400


def test_forged_expired_and_foreign_resume_tokens_are_refused(tenant_a, tenant_b):
    survey = _published(tenant_a)
    client = _client(tenant_a)
    saved = _put(client, survey, {"answers": {"q_name": "A"}}).json()
    url = f"/api/v1/s/{survey.public_link}/draft/{saved['submission_id']}/"
    stamp, signature = saved["token"].split(".")
    for token in (f"{stamp}.{'0' * 40}", f"{int(stamp) + 60}.{signature}", "garbage", ""):
        response = client.get(url, {"token": token})
        assert response.status_code == 403, token
        assert response.json()["error"]["code"] == "invalid_token"
    assert (
        _put(
            client, survey, {"answers": {}, "submission_id": saved["submission_id"], "token": f"{stamp}.{'1' * 40}"}
        ).status_code
        == 403
    )
    other = _published(tenant_a)  # same tenant, another survey: the token does not carry over
    assert (
        client.get(
            f"/api/v1/s/{other.public_link}/draft/{saved['submission_id']}/", {"token": saved["token"]}
        ).status_code
        == 403
    )
    assert _client(tenant_b).get(url, {"token": saved["token"]}).status_code == 404  # link unknown there


def test_draft_survives_redis_loss_after_a_sync(tenant_a):
    survey = _published(tenant_a)
    client = _client(tenant_a)
    saved = _put(client, survey, {"answers": {"q_name": "Kept"}, "page": "p_about"}).json()
    with tenant_context(tenant_a):
        assert drafts_sync() >= 1
        assert DraftCopy.objects.get(uid=saved["submission_id"]).data["answers"] == {"q_name": "Kept"}
    get_redis_connection("default").delete(draft_key(tenant_a.schema_name, saved["submission_id"]))
    resumed = client.get(f"/api/v1/s/{survey.public_link}/draft/{saved['submission_id']}/", {"token": saved["token"]})
    assert resumed.status_code == 200
    assert resumed.json()["answers"] == {"q_name": "Kept"}


def test_submit_stores_effective_answers_and_shows_the_end_screen(tenant_a):
    survey = _published(tenant_a)
    response = _submit(_client(tenant_a), survey, {"answers": GOOD})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["end_screen"] == "thanks"
    assert body["text"] == "Thank you, Ann! Your answers help us improve."
    with tenant_context(tenant_a):
        submission = Submission.objects.get(uid=body["submission_id"])
        answers = {a.question_id: a for a in Answer.objects.filter(submission_id=submission.id)}
        assert Survey.objects.get(pk=survey.pk).response_count == 1
    assert set(answers) == set(GOOD)
    assert answers["q_nps"].number == 9.0
    assert answers["q_features"].choices == ["logic", "analytics"]
    assert answers["q_role"].choices == ["dev"]


def test_answers_to_hidden_questions_and_skipped_pages_are_dropped(tenant_a):
    survey = _published(tenant_a)
    detractor = {**GOOD, "q_nps": 3}  # ends the survey after page 2: page 3's answer is discarded
    body = _submit(_client(tenant_a), survey, {"answers": detractor}).json()
    assert body["end_screen"] == "sorry"
    with tenant_context(tenant_a):
        stored = set(
            Answer.objects.filter(submission_id=Submission.objects.get(uid=body["submission_id"]).id).values_list(
                "question_id", flat=True
            )
        )
    assert "q_features" not in stored
    assert stored == {"q_name", "q_role", "q_nps", "q_why"}


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({**GOOD, "q_nps": 11}, "q_nps", "from 0 to 10"),
        ({**GOOD, "q_nps": "nine"}, "q_nps", "Expected a number"),
        ({**GOOD, "q_role": "ceo"}, "q_role", "Unknown choice"),
        ({**GOOD, "q_role": "__other__"}, "q_role", "specify"),
        ({**GOOD, "q_features": "logic"}, "q_features", "list of choices"),
        ({**GOOD, "q_name": "x" * 61}, "q_name", "At most 60"),
        ({**GOOD, "q_ghost": 1}, "q_ghost", "Unknown question"),
        ({k: v for k, v in GOOD.items() if k != "q_nps"}, "q_nps", "required"),
    ],
)
def test_bad_answers_get_per_question_messages_and_nothing_is_written(tenant_a, answers, field, message):
    survey = _published(tenant_a)
    response = _submit(_client(tenant_a), survey, {"answers": answers})
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert any(message in text for text in details[field]), details
    with tenant_context(tenant_a):
        assert not Submission.objects.filter(survey_id=survey.pk).exists()
        assert Survey.objects.get(pk=survey.pk).response_count == 0


def test_malformed_payloads_are_400(tenant_a):
    survey = _published(tenant_a)
    client = _client(tenant_a)
    assert _submit(client, survey, {"answers": ["not", "an", "object"]}).status_code == 400
    assert (
        client.post(f"/api/v1/s/{survey.public_link}/submit/", "{", content_type="application/json").status_code == 400
    )
    assert _submit(client, survey, {"answers": GOOD}, HTTP_IDEMPOTENCY_KEY="bad key!").status_code == 400
    assert (
        _submit(client, survey, {"answers": GOOD, "submission_id": str(uuid.uuid4()), "token": "x.y"}).status_code
        == 403
    )


def test_retries_with_the_same_idempotency_key_or_draft_never_duplicate(tenant_a):
    survey = _published(tenant_a)
    client = _client(tenant_a)
    first = _submit(client, survey, {"answers": GOOD}, HTTP_IDEMPOTENCY_KEY="retry-key-0001")
    again = _submit(client, survey, {"answers": GOOD}, HTTP_IDEMPOTENCY_KEY="retry-key-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    draft = _put(client, survey, {"answers": GOOD}).json()
    body = {"answers": GOOD, "submission_id": draft["submission_id"], "token": draft["token"]}
    assert _submit(client, survey, body).status_code == 201
    assert _submit(client, survey, body).json()["submission_id"] == draft["submission_id"]
    with tenant_context(tenant_a):
        assert Submission.objects.filter(survey_id=survey.pk).count() == 2
        assert Survey.objects.get(pk=survey.pk).response_count == 2
    assert get_redis_connection("default").get(draft_key(tenant_a.schema_name, draft["submission_id"])) is None


def test_response_limit_is_exact_under_concurrency(tenant_a):
    """200 parallel clients (each its own PostgreSQL connection) race for the last 10 places."""
    survey = _published(tenant_a, response_limit=15)
    with tenant_context(tenant_a):
        Survey.objects.filter(pk=survey.pk).update(response_count=5)

    def one(_):
        try:
            return _submit(_client(tenant_a), survey, {"answers": GOOD}).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(one, range(200)))
    assert statuses.count(201) == 10
    assert set(statuses) == {201, 410}
    with tenant_context(tenant_a):
        assert Submission.objects.filter(survey_id=survey.pk).count() == 10
        assert Survey.objects.get(pk=survey.pk).response_count == 15


def test_one_response_per_respondent(tenant_a):
    survey = _published(tenant_a, one_response_per_respondent=True)
    client = _client(tenant_a)
    assert _submit(client, survey, {"answers": GOOD}).status_code == 400  # needs a respondent key
    key = {"HTTP_X_RESPONDENT_KEY": "browser-key-1234"}
    assert _submit(client, survey, {"answers": GOOD}, **key).status_code == 201
    second = _submit(client, survey, {"answers": GOOD}, **key)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "already_answered"
    assert _submit(client, survey, {"answers": GOOD}, HTTP_X_RESPONDENT_KEY="browser-key-5678").status_code == 201


def test_unique_respondents_are_counted_in_a_hyperloglog(tenant_a):
    survey = _published(tenant_a, one_response_per_respondent=True)
    for i in range(5):
        _submit(_client(tenant_a), survey, {"answers": GOOD}, HTTP_X_RESPONDENT_KEY=f"respondent-{i:04d}")
    with tenant_context(tenant_a):
        assert unique_respondents(survey_id=survey.pk) == 5
        assert SubmissionKey.objects.filter(survey_id=survey.pk).count() == 5


def test_closed_and_full_surveys_refuse_drafts_and_submits(tenant_a):
    survey = _published(tenant_a, closes_at=timezone.now() + dt.timedelta(days=1))
    with tenant_context(tenant_a):
        services.survey_close(survey=survey)
    client = _client(tenant_a)
    assert _put(client, survey, {"answers": {}}).status_code == 410
    assert _submit(client, survey, {"answers": GOOD}).json()["error"]["code"] == "survey_closed"


def test_date_bounded_submission_query_scans_only_matching_partitions(tenant_a):
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    with tenant_context(tenant_a), connection.cursor() as cursor:
        for table in ("responses_submission", "responses_answer"):
            cursor.execute(
                f"EXPLAIN SELECT * FROM {table} WHERE survey_id = 1 AND submitted_at >= %s AND submitted_at < %s",
                [start, end],
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert f"{table}_p{start:%Y_%m}" in plan
            assert f"{table}_p{(start - dt.timedelta(days=1)):%Y_%m}" not in plan
            assert f"{table}_default" not in plan


def test_retention_detaches_old_partitions_and_stray_rows_raise_an_alert(make_tenant, caplog):
    from django.db import connections, transaction

    from shared_apps.tenants.models import Organisation
    from shared_apps.tenants.services import partitions_maintain

    tenant = make_tenant()
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE "{tenant.schema_name}".responses_submission_p2020_01 PARTITION OF '
            f"\"{tenant.schema_name}\".responses_submission FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')"
        )
    Organisation.objects.filter(pk=tenant.pk).update(retention_months=24)
    with tenant_context(tenant), connection.cursor() as cursor:  # a row far in the future lands in the default
        cursor.execute(
            "INSERT INTO responses_submission (submitted_at, uid, survey_id, version_id) "
            "VALUES ('2099-01-01', %s, 1, 1)",
            [str(uuid.uuid4())],
        )
    with caplog.at_level("ERROR"):
        changed = partitions_maintain()
    assert "detached:responses_submission_p2020_01" in changed[tenant.schema_name]
    assert any(
        "default partition" in r.getMessage() and getattr(r, "tenant", "") == tenant.schema_name for r in caplog.records
    )
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE c.relname = 'responses_submission_p2020_01'"
        )
        assert cursor.fetchone()[0] == 0
    from django.core.management import call_command

    call_command("check_isolation", "--quiet")


# --- staff submissions API ----------------------------------------------------------------------------


def _answered(tenant, survey, count, **answers):
    client = _client(tenant)
    return [_submit(client, survey, {"answers": {**GOOD, **answers}}).json()["submission_id"] for _ in range(count)]


def test_staff_list_filters_paginates_without_n_plus_one(tenant_a, make_member, api_client_for):
    survey = _published(tenant_a)
    _answered(tenant_a, survey, 3, q_role="dev")
    _answered(tenant_a, survey, 2, q_role="ops", q_nps=10)
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    url = f"/api/v1/surveys/{survey.pk}/submissions/"
    everything = analyst.get(url).json()["results"]
    assert len(everything) == 5
    assert everything[0]["answers"]["q_name"] == "Ann"
    assert len(analyst.get(url, {"answer": "q_role:ops"}).json()["results"]) == 2
    assert len(analyst.get(url, {"answer": "q_nps:10"}).json()["results"]) == 2
    assert len(analyst.get(url, {"answer": "q_features:logic"}).json()["results"]) == 5
    assert analyst.get(url, {"since": (timezone.now() + dt.timedelta(hours=1)).isoformat()}).json()["results"] == []
    page = analyst.get(url, {"page_size": 2}).json()
    assert len(page["results"]) == 2
    assert page["next"]
    with CaptureQueriesContext(connection) as small:
        analyst.get(url, {"page_size": 1})
    with CaptureQueriesContext(connection) as large:
        analyst.get(url, {"page_size": 5})
    assert len(small) == len(large)
    assert analyst.get(url, {"since": "tomorrow"}).status_code == 400


def test_staff_detail_has_the_versions_questions_and_soft_delete_is_audited(tenant_a, make_member, api_client_for):
    from tenant_apps.audit.models import AuditEvent

    survey = _published(tenant_a)
    (uid,) = _answered(tenant_a, survey, 1)
    admin = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    detail = admin.get(f"/api/v1/surveys/{survey.pk}/submissions/{uid}/").json()
    assert detail["version"] == 1
    assert {q["id"] for q in detail["questions"]} >= {"q_name", "q_nps", "q_features"}
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    assert analyst.delete(f"/api/v1/surveys/{survey.pk}/submissions/{uid}/").status_code == 403
    assert admin.delete(f"/api/v1/surveys/{survey.pk}/submissions/{uid}/").status_code == 204
    assert admin.get(f"/api/v1/surveys/{survey.pk}/submissions/{uid}/").status_code == 404
    assert admin.get(f"/api/v1/surveys/{survey.pk}/submissions/").json()["results"] == []
    with tenant_context(tenant_a):
        assert AuditEvent.objects.filter(action="submission.deleted").exists()
        assert Survey.objects.get(pk=survey.pk).response_count == 0


def test_respondents_see_only_their_own_submissions(tenant_a, make_member, api_client_for):
    survey = _published(tenant_a, access="authenticated")
    me, other = make_member(tenant_a, "respondent"), make_member(tenant_a, "respondent")
    mine = api_client_for(me, tenant_a)
    theirs = api_client_for(other, tenant_a)
    my_uid = _submit(mine, survey, {"answers": GOOD}).json()["submission_id"]
    their_uid = _submit(theirs, survey, {"answers": GOOD}).json()["submission_id"]
    listed = [row["id"] for row in mine.get(f"/api/v1/surveys/{survey.pk}/submissions/").json()["results"]]
    assert listed == [my_uid]
    assert mine.get(f"/api/v1/surveys/{survey.pk}/submissions/{their_uid}/").status_code == 404


def test_submissions_of_another_tenant_are_404(tenant_a, tenant_b, make_member, api_client_for):
    survey_b = _published(tenant_b)
    (uid,) = _answered(tenant_b, survey_b, 1)
    admin_a = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    assert admin_a.get(f"/api/v1/surveys/{survey_b.pk}/submissions/{uid}/").status_code == 404
    assert admin_a.delete(f"/api/v1/surveys/{survey_b.pk}/submissions/{uid}/").status_code == 404
    with tenant_context(tenant_a):
        a_has_that_id = Survey.objects.filter(pk=survey_b.pk).exists()
    if not a_has_that_id:
        assert admin_a.get(f"/api/v1/surveys/{survey_b.pk}/submissions/").status_code == 404
    else:
        assert uid not in str(admin_a.get(f"/api/v1/surveys/{survey_b.pk}/submissions/").json())


@pytest.mark.worker
def test_owner_is_notified_after_commit_through_the_notifications_queue(
    tenant_a, make_member, smtp_server, celery_worker_process
):
    owner = make_member(tenant_a, "survey_creator")
    with tenant_context(tenant_a):
        survey = services.survey_create(
            title="Notify me",
            created_by_id=owner.pk,
            notify_owners=True,
            definition=copy.deepcopy(services.DEMO_DEFINITION),
        )
        publication = services.publication_request(survey=survey, requested_by_id=None)
    with tenant_context(tenant_a):
        services.publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
        survey = Survey.objects.get(pk=survey.pk)
    uid = _submit(_client(tenant_a), survey, {"answers": GOOD}).json()["submission_id"]
    message = smtp_server.wait_for(owner.email)
    assert message["Subject"] == "New response to Notify me"
    assert uid in message.get_payload()
    from config.celery import app

    assert app.amqp.router.route({}, "tenant_apps.notifications.tasks.email_send")["queue"].name == "notifications"


def test_staff_list_in_progress_responses(tenant_a, make_member, api_client_for):
    survey = _published(tenant_a)
    client = _client(tenant_a)
    started = _put(client, survey, {"answers": {"q_name": "Half"}, "page": "p_about"}).json()
    finished = _put(client, survey, {"answers": GOOD, "page": "p_more"}).json()
    with tenant_context(tenant_a):
        drafts_sync()
    _submit(client, survey, {"answers": GOOD, "submission_id": finished["submission_id"], "token": finished["token"]})
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    rows = analyst.get(f"/api/v1/surveys/{survey.pk}/submissions/", {"completion": "incomplete"}).json()["results"]
    assert [row["id"] for row in rows] == [started["submission_id"]]
    assert rows[0]["answers"] == {"q_name": "Half"}
    complete = analyst.get(f"/api/v1/surveys/{survey.pk}/submissions/").json()["results"]
    assert [row["id"] for row in complete] == [finished["submission_id"]]
