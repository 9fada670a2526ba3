"""Survey load for respondents: published version by link, cached, ETag/304, clear statuses,
invalidation in every process on publish/close."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.surveys import services
from tenant_apps.surveys.models import Publication, Survey
from tests.conftest import host_of, login


def _published(tenant, **settings):
    with tenant_context(tenant):
        return services.survey_create_published(
            title="Load me", definition=copy.deepcopy(services.DEMO_DEFINITION), **settings
        )


def test_load_serves_the_published_version_with_etag(tenant_a):
    survey = _published(tenant_a)
    client = Client(HTTP_HOST=host_of(tenant_a))
    response = client.get(f"/api/v1/s/{survey.public_link}/")
    assert response.status_code == 200
    body = response.json()
    assert body["survey"]["title"] == "Load me"
    assert body["survey"]["version"] == 1
    assert body["definition"] == services.DEMO_DEFINITION
    etag = response["ETag"]
    again = client.get(f"/api/v1/s/{survey.public_link}/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""


def test_warm_load_needs_no_survey_query(tenant_a):
    survey = _published(tenant_a)
    client = Client(HTTP_HOST=host_of(tenant_a))
    client.get(f"/api/v1/s/{survey.public_link}/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/api/v1/s/{survey.public_link}/").status_code == 200
    assert not any("surveys_survey" in q["sql"] for q in queries.captured_queries)


def test_drafts_and_unknown_links_are_404(tenant_a):
    with tenant_context(tenant_a):
        draft = services.survey_create(title="Draft", created_by_id=None)
    client = Client(HTTP_HOST=host_of(tenant_a))
    for link in (draft.public_link, "no-such-link"):
        response = client.get(f"/api/v1/s/{link}/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "survey_not_found"


def test_closed_not_yet_open_and_full_surveys_have_clear_statuses(tenant_a):
    client = Client(HTTP_HOST=host_of(tenant_a))
    closed = _published(tenant_a)
    with tenant_context(tenant_a):
        services.survey_close(survey=closed)
    response = client.get(f"/api/v1/s/{closed.public_link}/")
    assert (response.status_code, response.json()["error"]["code"]) == (410, "survey_closed")

    later = _published(tenant_a, opens_at=timezone.now() + dt.timedelta(days=2))
    response = client.get(f"/api/v1/s/{later.public_link}/")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "survey_not_open")
    assert "opens_at" in response.json()["error"]["details"]

    ended = _published(tenant_a, closes_at=timezone.now() - dt.timedelta(minutes=1))
    assert client.get(f"/api/v1/s/{ended.public_link}/").json()["error"]["code"] == "survey_closed"

    full = _published(tenant_a, response_limit=1)
    with tenant_context(tenant_a):
        Survey.objects.filter(pk=full.pk).update(response_count=1)
        services.survey_update_settings(survey=full, notify_owners=True)  # any settings change invalidates
    response = client.get(f"/api/v1/s/{full.public_link}/")
    assert (response.status_code, response.json()["error"]["code"]) == (410, "survey_full")


def test_restricted_survey_needs_a_signed_in_member(tenant_a, make_member):
    survey = _published(tenant_a, access="authenticated")
    anonymous = Client(HTTP_HOST=host_of(tenant_a))
    assert anonymous.get(f"/api/v1/s/{survey.public_link}/").status_code == 401
    respondent = make_member(tenant_a, "respondent")
    signed_in = Client(
        HTTP_HOST=host_of(tenant_a), HTTP_AUTHORIZATION=f"Bearer {login(tenant_a, respondent.email)['access']}"
    )
    assert signed_in.get(f"/api/v1/s/{survey.public_link}/").status_code == 200


def test_a_link_of_another_tenant_is_404(tenant_a, tenant_b):
    survey_b = _published(tenant_b)
    response = Client(HTTP_HOST=host_of(tenant_a)).get(f"/api/v1/s/{survey_b.public_link}/")
    assert response.status_code == 404


def test_publish_and_close_reach_every_process_at_once(live_servers, tenant_a):
    survey = _published(tenant_a)
    url = f"/api/v1/s/{survey.public_link}/"
    headers = {"Host": host_of(tenant_a)}
    for server in live_servers:  # warm both processes
        assert requests.get(server + url, headers=headers, timeout=5).json()["survey"]["version"] == 1
    with tenant_context(tenant_a):
        services.question_update(survey=survey, question_id="q_name", changes={"text": "Nickname?"})
        publication = services.publication_request(survey=survey, requested_by_id=None)
    with tenant_context(tenant_a):
        services.publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
    for server in live_servers:
        body = requests.get(server + url, headers=headers, timeout=5).json()
        assert body["survey"]["version"] == 2
        assert body["definition"]["pages"][0]["questions"][0]["text"] == "Nickname?"
    with tenant_context(tenant_a):
        services.survey_close(survey=survey)
    for server in live_servers:
        assert requests.get(server + url, headers=headers, timeout=5).status_code == 410


@pytest.mark.parametrize("route", ["survey-load"])
def test_publish_task_is_routed_to_high_priority(route):
    from config.celery import app

    assert app.amqp.router.route({}, "tenant_apps.surveys.tasks.publication_compile")["queue"].name == "high_priority"
