"""Plan limits hold exactly under concurrency: responses per month, seats, active surveys."""

from __future__ import annotations

import copy
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from billing.limits import month_start
from billing.models import UsageMonth
from billing.plans import PLANS
from shared_apps.tenants.models import Organisation
from tenant_apps.members.models import Invitation, Membership, Role
from tenant_apps.members.services import invitation_create, invitation_token
from tenant_apps.responses.models import Submission
from tenant_apps.surveys import services
from tenant_apps.surveys.models import Publication, Survey
from tests.conftest import host_of

GOOD = {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "Fast", "q_features": ["logic", "analytics"]}


def _published(tenant, **settings):
    with tenant_context(tenant):
        return services.survey_create_published(
            title="Respond", definition=copy.deepcopy(services.DEMO_DEFINITION), **settings
        )


def _submit(tenant, survey):
    return Client(HTTP_HOST=host_of(tenant)).post(
        f"/api/v1/s/{survey.public_link}/submit/", {"answers": GOOD}, content_type="application/json"
    )


def test_responses_per_month_exact_under_concurrency(make_tenant):
    """200 parallel clients (each its own PostgreSQL connection) race for the free plan's last 10 responses."""
    tenant = make_tenant(plan="enterprise")
    first, second = _published(tenant), _published(tenant)
    limit = PLANS["free"].responses_per_month
    assert limit is not None
    Organisation.objects.filter(pk=tenant.pk).update(plan="free")
    UsageMonth.objects.create(organisation_id=tenant.pk, month=month_start(), responses=limit - 10)

    def one(i):
        try:
            return _submit(tenant, first if i % 2 else second).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(one, range(200)))
    print(f"\n200 racing submits for the last 10 places: {statuses.count(201)} x 201, {statuses.count(402)} x 402")
    assert statuses.count(201) == 10
    assert set(statuses) == {201, 402}
    assert UsageMonth.objects.get(organisation_id=tenant.pk, month=month_start()).responses == limit
    with tenant_context(tenant):
        assert Submission.objects.count() == 10  # refused submits left nothing behind
        assert sum(Survey.objects.values_list("response_count", flat=True)) == 10

    refused = _submit(tenant, first)
    error = refused.json()["error"]
    assert refused.status_code == 402
    assert error["code"] == "plan_limit_reached"
    assert error["details"]["limit"] == "responses_per_month"
    assert error["details"]["upgrade"]["plan"] == "team"
    assert "Upgrade to Team" in error["message"]
    # The respondent page: a friendly page, not a form that cannot be sent.
    page = Client(HTTP_HOST=host_of(tenant)).get(f"/s/{first.public_link}")
    assert page.status_code == 503
    assert b"not accepting responses" in page.content
    # A higher plan raises the limit at once.
    Organisation.objects.filter(pk=tenant.pk).update(plan="team")
    assert _submit(tenant, first).status_code == 201


def test_seats_exact_under_concurrent_acceptances(make_tenant, make_member):
    tenant = make_tenant(plan="enterprise")
    make_member(tenant, role="admin")
    with tenant_context(tenant):
        analyst = Role.objects.get(slug="analyst")
        tokens = [
            invitation_token(
                invitation_create(
                    email=f"seat-{i}-{uuid.uuid4().hex[:6]}@example.test", role=analyst, invited_by_id=None
                )
            )
            for i in range(12)
        ]
        staff = Membership.objects.filter(is_active=True).exclude(role__slug="respondent").count()
    Organisation.objects.filter(pk=tenant.pk).update(plan="team")
    seats = PLANS["team"].seats
    assert seats is not None
    room = seats - staff

    def accept(token):
        try:
            return (
                Client(HTTP_HOST=host_of(tenant))
                .post(
                    "/api/v1/invitations/accept/",
                    {"token": token, "password": "A-long-passphrase-42"},
                    content_type="application/json",
                )
                .status_code
            )
        finally:
            connection.close()

    assert room < len(tokens)
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(accept, tokens))
    assert statuses.count(201) + statuses.count(200) == room, statuses
    assert statuses.count(402) == len(tokens) - room
    with tenant_context(tenant):
        assert Membership.objects.filter(is_active=True).exclude(role__slug="respondent").count() == seats
        assert Invitation.objects.filter(accepted_at__isnull=False).count() == room


def test_active_surveys_limit_at_publish(make_tenant, make_member, api_client_for):
    tenant = make_tenant(plan="enterprise")
    limit = PLANS["free"].active_surveys
    assert limit is not None
    for _ in range(limit):
        _published(tenant)
    Organisation.objects.filter(pk=tenant.pk).update(plan="free")
    admin = make_member(tenant, role="admin")
    client = api_client_for(admin, tenant)
    draft = client.post("/api/v1/surveys/", {"title": "One more"}, content_type="application/json")
    assert draft.status_code == 201, draft.content
    refused = client.post(f"/api/v1/surveys/{draft.json()['id']}/publish/", {}, content_type="application/json")
    assert refused.status_code == 402, refused.content
    assert refused.json()["error"]["details"]["limit"] == "active_surveys"
    with tenant_context(tenant):
        assert not Publication.objects.filter(survey_id=draft.json()["id"]).exists()
        # Closing one frees a place; reopening takes it back, and the next reopen is refused.
        closed = Survey.objects.filter(status=Survey.Status.PUBLISHED).first()
        services.survey_close(survey=closed)
        services.survey_reopen(survey=closed)
        other = Survey.objects.filter(status=Survey.Status.PUBLISHED).last()
        services.survey_close(survey=other)
    assert (
        client.post(f"/api/v1/surveys/{draft.json()['id']}/publish/", {}, content_type="application/json").status_code
        == 202
    )
