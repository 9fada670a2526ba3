"""Every tenant endpoint x every built-in role (+ a custom role and an anonymous client): allow or deny.

The table below must name every endpoint of the tenant URL conf: adding an endpoint without a row
here, or without a declared permission, fails ``test_every_endpoint_declares_a_permission_and_is_covered``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver
from django_tenants.utils import tenant_context

from tenant_apps.members.access import MEMBER, PUBLIC, NotDeclared
from tenant_apps.members.models import Invitation, Membership, Role
from tenant_apps.members.permissions import BUILTIN_ROLES
from tenant_apps.surveys.models import Publication
from tests.conftest import host_of, login
from tests.factories import SurveyFactory

CUSTOM_ROLE_PERMISSIONS = ["audit.view", "survey.view"]
S = "/api/v1/surveys"
ROLES = [*BUILTIN_ROLES, "custom", "anonymous"]
DOC_ROUTES = {"schema", "swagger-ui", "redoc"}
# Server-rendered HTML pages for respondents (public by design; tested in test_respondent_page.py).
PAGE_ROUTES = {  # HTML, not APIs
    "respondent-page",
    "invitation-accept-page",
    "unsubscribe-page",
    "tenant-home",
    "staff-app",
}


@dataclass(frozen=True)
class Case:
    route: str
    method: str
    permission: str
    path: Callable[[Any], str]
    body: Callable[[Any], dict[str, Any]] | None = None
    # The exact status an allowed caller gets. Where it is a 4xx, the request is deliberately not a
    # valid one (a forged token, a wrong password): the point there is that it passes the permission check.
    expect: int = 200
    # Exceptions by role (e.g. a respondent sees only their own submissions: 404 for another's).
    expect_by_role: tuple[tuple[str, int], ...] = ()


def _fresh_membership(tenant: Any) -> int:
    from shared_apps.accounts.models import User
    from tenant_apps.members.services import membership_ensure

    user = User.objects.create_user(f"target-{uuid.uuid4().hex[:8]}@example.test", "x-Long-password-1")
    with tenant_context(tenant):
        return membership_ensure(user=user, role_slug="analyst").pk


def _fresh_role(tenant: Any) -> int:
    with tenant_context(tenant):
        return Role.objects.create(
            slug=f"r_{uuid.uuid4().hex[:8]}", name=f"R {uuid.uuid4().hex[:8]}", permissions=["survey.view"]
        ).pk


def _fresh_invitation(tenant: Any) -> int:
    from django.utils import timezone

    with tenant_context(tenant):
        return Invitation.objects.create(
            email=f"i-{uuid.uuid4().hex[:6]}@example.test",
            role=Role.objects.get(slug="analyst"),
            nonce=uuid.uuid4().hex,
            expires_at=timezone.now() + timezone.timedelta(days=1),
        ).pk


def _fresh_survey(tenant: Any, publish: bool = False) -> Any:
    survey = SurveyFactory(tenant=tenant, title="Matrix", published=publish)
    if publish:
        with tenant_context(tenant):
            survey.publication_id = Publication.objects.filter(survey=survey).latest("pk").pk
    return survey


def _closed_survey(tenant: Any) -> Any:
    from tenant_apps.surveys import services

    survey = _fresh_survey(tenant, publish=True)
    with tenant_context(tenant):
        services.survey_close(survey=survey)
    return survey


def _fresh_draft(tenant: Any) -> str:
    """A draft saved through the respondent API: the resume URL with its real token."""
    survey = _fresh_survey(tenant, publish=True)
    saved = Client(HTTP_HOST=host_of(tenant)).put(
        f"/api/v1/s/{survey.public_link}/draft/", {"answers": {"q_name": "A"}}, content_type="application/json"
    )
    assert saved.status_code == 200, saved.content
    body = saved.json()
    return f"/api/v1/s/{survey.public_link}/draft/{body['submission_id']}/?token={body['token']}"


def _fresh_submission(tenant: Any) -> str:
    """A submission made through the respondent API: its staff URL."""
    survey = _fresh_survey(tenant, publish=True)
    submitted = Client(HTTP_HOST=host_of(tenant)).post(
        f"/api/v1/s/{survey.public_link}/submit/",
        {"answers": {"q_role": "dev", "q_nps": 9}},
        content_type="application/json",
    )
    assert submitted.status_code == 201, submitted.content
    return f"{S}/{survey.pk}/submissions/{submitted.json()['submission_id']}/"


_LAST_DRAFT: dict[str, str] = {}


def _fresh_draft_email_path(tenant: Any) -> str:
    """A published survey with a draft in progress; its token is kept for the body."""
    link = _fresh_survey(tenant, publish=True).public_link
    saved = Client(HTTP_HOST=host_of(tenant)).put(
        f"/api/v1/s/{link}/draft/", {"answers": {"q_name": "A"}}, content_type="application/json"
    )
    _LAST_DRAFT["token"] = saved.json()["token"]
    return f"/api/v1/s/{link}/draft/{saved.json()['submission_id']}/email/"


def _fresh_export(tenant: Any) -> str:
    from django.utils import timezone

    from tenant_apps.exports.models import ExportJob

    survey = _fresh_survey(tenant, publish=True)
    with tenant_context(tenant):
        job = ExportJob.objects.create(
            survey=survey, format="csv", options={}, expires_at=timezone.now() + timezone.timedelta(days=1)
        )
    return f"/api/v1/exports/{job.pk}/"


def _fresh_webhook(tenant: Any) -> str:
    from tenant_apps.webhooks import signing
    from tenant_apps.webhooks.models import WebhookEndpoint

    with tenant_context(tenant):
        endpoint = WebhookEndpoint.objects.create(
            url="http://127.0.0.1:9/matrix", events=["survey.closed"], secret=signing.new_secret()
        )
    return f"/api/v1/webhooks/{endpoint.pk}/"


def _fresh_webhook_delivery(tenant: Any) -> str:
    from django.utils import timezone

    from tenant_apps.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

    path = _fresh_webhook(tenant)
    with tenant_context(tenant):
        event = WebhookEvent.objects.create(
            event_id=f"evt_{uuid.uuid4().hex}", type="survey.closed", body="{}", created_at=timezone.now()
        )
        endpoint = WebhookEndpoint.objects.get(pk=int(path.rstrip("/").rsplit("/", 1)[1]))
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, status="failed")
    return f"{path}deliveries/{delivery.pk}/"


def _fresh_contact(tenant: Any) -> int:
    from tenant_apps.distribution.services import contact_create

    with tenant_context(tenant):
        return contact_create(email=f"c-{uuid.uuid4().hex[:8]}@example.test").pk


def _fresh_contact_list(tenant: Any) -> int:
    from tenant_apps.distribution.services import contact_list_create

    with tenant_context(tenant):
        return contact_list_create(name=f"List {uuid.uuid4().hex[:8]}").pk


def _fresh_distribution(tenant: Any) -> int:
    from tenant_apps.distribution.services import distribution_create

    survey = _fresh_survey(tenant, publish=True)
    contact_id = _fresh_contact(tenant)
    with tenant_context(tenant):
        return distribution_create(
            survey=survey,
            contact_list=None,
            contact_ids=[contact_id],
            subject="Hello",
            message="Please answer.",
            reminders_max=0,
            reminder_interval_hours=24,
            actor_id=None,
        ).distribution.pk


def _fresh_subject_request(tenant: Any) -> str:
    from tenant_apps.privacy.services import dsr_access, subject_clean

    with tenant_context(tenant):
        record, _ = dsr_access(subject=subject_clean(email="nobody@example.test", respondent_key=None))
    return f"/api/v1/privacy/requests/{record.pk}/"


def _fresh_tenant_export(tenant: Any) -> str:
    from django.utils import timezone

    from tenant_apps.privacy.models import TenantExport

    with tenant_context(tenant):
        export = TenantExport.objects.create(
            status="failed", created_at=timezone.now(), expires_at=timezone.now() + timezone.timedelta(days=1)
        )
    return f"/api/v1/privacy/exports/{export.pk}/"


def _publication_path(survey: Any) -> str:
    return f"/api/v1/surveys/{survey.pk}/publications/{survey.publication_id}/"


DEMO_PAGE = {"id": "p_new", "title": "New page"}
WH = "webhook.manage"

CASES = [
    Case("tenant-info", "get", PUBLIC, lambda t: "/api/v1/tenant/"),
    Case(
        "auth-token",
        "post",
        PUBLIC,
        lambda t: "/api/v1/auth/token/",
        lambda t: {"email": "x@y.z", "password": "p"},
        expect=400,
    ),
    Case(
        "auth-token-refresh",
        "post",
        PUBLIC,
        lambda t: "/api/v1/auth/token/refresh/",
        lambda t: {"refresh": "x"},
        expect=401,
    ),
    Case("auth-logout", "post", PUBLIC, lambda t: "/api/v1/auth/logout/", lambda t: {"refresh": "x"}, expect=401),
    Case(
        "auth-password-change",
        "post",
        MEMBER,
        lambda t: "/api/v1/auth/password/change/",
        lambda t: {"current_password": "wrong-one", "new_password": "short"},
        expect=400,
    ),
    Case(
        "auth-password-reset",
        "post",
        PUBLIC,
        lambda t: "/api/v1/auth/password/reset/",
        lambda t: {"email": "nobody@example.test"},
        expect=202,
    ),
    Case(
        "auth-password-reset-confirm",
        "post",
        PUBLIC,
        lambda t: "/api/v1/auth/password/reset/confirm/",
        lambda t: {"uid": "MQ", "token": "x", "new_password": "whatever-123456"},
        expect=400,
    ),
    Case("me", "get", MEMBER, lambda t: "/api/v1/me/"),
    Case("permission-list", "get", MEMBER, lambda t: "/api/v1/permissions/"),
    Case("member-list", "get", "user.manage", lambda t: "/api/v1/members/"),
    Case("member-detail", "get", "user.manage", lambda t: f"/api/v1/members/{_fresh_membership(t)}/"),
    Case(
        "member-detail",
        "patch",
        "user.manage",
        lambda t: f"/api/v1/members/{_fresh_membership(t)}/",
        lambda t: {"role": "survey_creator"},
    ),
    Case("member-detail", "delete", "user.manage", lambda t: f"/api/v1/members/{_fresh_membership(t)}/", expect=204),
    Case("invitation-list", "get", "user.manage", lambda t: "/api/v1/invitations/"),
    Case(
        "invitation-list",
        "post",
        "user.manage",
        lambda t: "/api/v1/invitations/",
        lambda t: {"email": f"new-{uuid.uuid4().hex[:6]}@example.test", "role": "analyst"},
        expect=201,
    ),
    Case(
        "invitation-revoke",
        "delete",
        "user.manage",
        lambda t: f"/api/v1/invitations/{_fresh_invitation(t)}/",
        expect=204,
    ),
    Case(
        "invitation-accept",
        "post",
        PUBLIC,
        lambda t: "/api/v1/invitations/accept/",
        lambda t: {"token": "forged"},
        expect=400,
    ),
    Case("role-list", "get", "user.manage", lambda t: "/api/v1/roles/"),
    Case(
        "role-list",
        "post",
        "user.manage",
        lambda t: "/api/v1/roles/",
        lambda t: {"name": f"Role {uuid.uuid4().hex[:6]}", "permissions": ["survey.view"]},
        expect=201,
    ),
    Case("role-detail", "get", "user.manage", lambda t: f"/api/v1/roles/{_fresh_role(t)}/"),
    Case(
        "role-detail",
        "patch",
        "user.manage",
        lambda t: f"/api/v1/roles/{_fresh_role(t)}/",
        lambda t: {"permissions": ["survey.view", "analytics.view"]},
    ),
    Case("role-detail", "delete", "user.manage", lambda t: f"/api/v1/roles/{_fresh_role(t)}/", expect=204),
    Case("audit-list", "get", "audit.view", lambda t: "/api/v1/audit/"),
    Case("branding", "get", MEMBER, lambda t: "/api/v1/branding/"),
    Case("branding", "put", "user.manage", lambda t: "/api/v1/branding/", lambda t: {"primary_color": "#123456"}),
    Case("survey-list", "get", "survey.view", lambda t: f"{S}/"),
    Case("survey-list", "post", "survey.create", lambda t: f"{S}/", lambda t: {"title": "New"}, expect=201),
    Case(
        "survey-import",
        "post",
        "survey.create",
        lambda t: f"{S}/import/",
        lambda t: {"format": "survey-platform/v1", "title": "Imported", "definition": {"pages": []}},
        expect=201,
    ),
    Case("survey-detail", "get", "survey.view", lambda t: f"{S}/{_fresh_survey(t).pk}/"),
    Case("survey-detail", "patch", "survey.edit", lambda t: f"{S}/{_fresh_survey(t).pk}/", lambda t: {"title": "x"}),
    Case("survey-detail", "delete", "survey.delete", lambda t: f"{S}/{_fresh_survey(t).pk}/", expect=204),
    Case(
        "survey-definition",
        "put",
        "survey.edit",
        lambda t: f"{S}/{_fresh_survey(t).pk}/definition/",
        lambda t: {"pages": []},
    ),
    Case(
        "page-list",
        "post",
        "survey.edit",
        lambda t: f"{S}/{_fresh_survey(t).pk}/pages/",
        lambda t: DEMO_PAGE,
        expect=201,
    ),
    Case(
        "page-reorder",
        "post",
        "survey.edit",
        lambda t: f"{S}/{_fresh_survey(t).pk}/pages/reorder/",
        lambda t: {"order": ["p_more", "p_about", "p_score"]},
    ),
    Case(
        "page-detail",
        "patch",
        "survey.edit",
        lambda t: f"{S}/{_fresh_survey(t).pk}/pages/p_more/",
        lambda t: {"title": "Renamed"},
    ),
    Case("page-detail", "delete", "survey.edit", lambda t: f"{S}/{_fresh_survey(t).pk}/pages/p_more/"),
    Case(
        "question-list",
        "post",
        "survey.edit",
        lambda t: f"{S}/{_fresh_survey(t).pk}/pages/p_more/questions/",
        lambda t: {"id": "q_extra", "type": "short_text", "text": "More?"},
        expect=201,
    ),
    Case(
        "question-detail",
        "patch",
        "survey.edit",
        lambda t: f"{S}/{_fresh_survey(t).pk}/questions/q_name/",
        lambda t: {"text": "Nickname?"},
    ),
    Case("question-detail", "delete", "survey.edit", lambda t: f"{S}/{_fresh_survey(t).pk}/questions/q_features/"),
    Case(
        "question-move",
        "post",
        "survey.edit",
        lambda t: f"{S}/{_fresh_survey(t).pk}/questions/q_features/move/",
        lambda t: {"page": "p_about", "position": 0},
    ),
    Case("survey-duplicate", "post", "survey.create", lambda t: f"{S}/{_fresh_survey(t).pk}/duplicate/", expect=201),
    Case("survey-validate", "post", "survey.edit", lambda t: f"{S}/{_fresh_survey(t).pk}/validate/"),
    Case("survey-publish", "post", "survey.publish", lambda t: f"{S}/{_fresh_survey(t).pk}/publish/", expect=202),
    Case(
        "publication-detail",
        "get",
        "survey.view",
        lambda t: _publication_path(_fresh_survey(t, publish=True)),
    ),
    Case("survey-close", "post", "survey.publish", lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/close/"),
    Case("survey-reopen", "post", "survey.publish", lambda t: f"{S}/{_closed_survey(t).pk}/reopen/"),
    Case("survey-archive", "post", "survey.delete", lambda t: f"{S}/{_fresh_survey(t).pk}/archive/"),
    Case("survey-version-list", "get", "survey.view", lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/versions/"),
    Case(
        "survey-version-detail", "get", "survey.view", lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/versions/1/"
    ),
    Case("survey-export", "get", "survey.view", lambda t: f"{S}/{_fresh_survey(t).pk}/export/"),
    Case("survey-load", "get", PUBLIC, lambda t: f"/api/v1/s/{_fresh_survey(t, publish=True).public_link}/"),
    Case(
        "draft-save",
        "put",
        PUBLIC,
        lambda t: f"/api/v1/s/{_fresh_survey(t, publish=True).public_link}/draft/",
        lambda t: {"answers": {"q_name": "A"}},
    ),
    Case(
        "draft-resume",
        "get",
        PUBLIC,
        _fresh_draft,
    ),
    Case(
        "draft-email",
        "post",
        PUBLIC,
        _fresh_draft_email_path,
        lambda t: {"email": "respondent@example.test", "token": _LAST_DRAFT["token"]},
        expect=202,
    ),
    Case("submission-list", "get", MEMBER, lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/submissions/"),
    Case(
        "submission-detail",
        "get",
        MEMBER,
        _fresh_submission,
        expect_by_role=(("respondent", 404), ("custom", 404)),  # without submission.view: their own only
    ),
    Case("submission-detail", "delete", "submission.delete", _fresh_submission, expect=204),
    Case(
        "file-upload",
        "post",
        PUBLIC,
        lambda t: f"/api/v1/s/{_fresh_survey(t, publish=True).public_link}/files/",
        lambda t: {"question": "q_name", "file": "x"},
        expect=415,
    ),
    Case(
        "file-url",
        "get",
        "submission.view",
        lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/files/?file_id=x",
        expect=400,
    ),
    Case("file-download", "get", PUBLIC, lambda t: "/api/v1/files/not-a-valid-token", expect=403),
    Case("analytics-summary", "get", "analytics.view", lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/analytics/"),
    Case(
        "analytics-question",
        "get",
        "analytics.view",
        lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/analytics/questions/q_nps/",
    ),
    Case(
        "analytics-timeseries",
        "get",
        "analytics.view",
        lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/analytics/timeseries/?interval=week",
    ),
    Case(
        "analytics-funnel",
        "get",
        "analytics.view",
        lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/analytics/funnel/",
    ),
    Case(
        "analytics-crosstab",
        "get",
        "analytics.view",
        lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/analytics/crosstab/?rows=q_role&columns=q_nps",
    ),
    Case(
        "export-create",
        "post",
        "submission.export",
        lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/exports/",
        lambda t: {"format": "csv"},
        expect=202,
    ),
    Case("billing-detail", "get", "billing.manage", lambda t: "/api/v1/billing/"),
    # Allowed callers pass the permission check and reach the service: a plan that is not for sale is a 400
    # (the 201 with a real Checkout Session is tested against Stripe's local peers in tests/billing).
    Case(
        "billing-checkout",
        "post",
        "billing.manage",
        lambda t: "/api/v1/billing/checkout/",
        lambda t: {"plan": "free"},
        expect=400,
    ),
    # No Stripe customer yet: 409 no_subscription (the 201 is tested in tests/billing).
    Case("billing-portal", "post", "billing.manage", lambda t: "/api/v1/billing/portal/", lambda t: {}, expect=409),
    Case("export-list", "get", "submission.export", lambda t: "/api/v1/exports/"),
    Case("export-detail", "get", "submission.export", _fresh_export),
    Case("export-detail", "delete", "submission.export", _fresh_export),
    Case("webhook-list", "get", WH, lambda t: "/api/v1/webhooks/"),
    Case(
        "webhook-list",
        "post",
        WH,
        lambda t: "/api/v1/webhooks/",
        lambda t: {"url": "http://127.0.0.1:9/matrix", "events": ["survey.closed"]},
        expect=201,
    ),
    Case("webhook-detail", "get", WH, _fresh_webhook),
    Case("webhook-detail", "patch", WH, _fresh_webhook, lambda t: {"description": "changed"}),
    Case("webhook-detail", "delete", WH, _fresh_webhook, expect=204),
    Case("webhook-rotate-secret", "post", WH, lambda t: f"{_fresh_webhook(t)}rotate-secret/", lambda t: {}),
    Case("webhook-delivery-list", "get", WH, lambda t: f"{_fresh_webhook(t)}deliveries/"),
    Case("webhook-delivery-detail", "get", WH, _fresh_webhook_delivery),
    # Queues a delivery to a closed port: it fails and is retried, harmlessly.
    Case("webhook-redeliver", "post", WH, lambda t: f"{_fresh_webhook_delivery(t)}redeliver/", expect=202),
    Case("subject-request-list", "get", "privacy.manage", lambda t: "/api/v1/privacy/requests/"),
    Case(
        "subject-request-list",
        "post",
        "privacy.manage",
        lambda t: "/api/v1/privacy/requests/",
        lambda t: {"kind": "access", "email": "nobody@example.test"},
        expect=201,
    ),
    Case("subject-request-detail", "get", "privacy.manage", _fresh_subject_request),
    Case("tenant-export-list", "get", "privacy.manage", lambda t: "/api/v1/privacy/exports/"),
    Case("tenant-export-list", "post", "privacy.manage", lambda t: "/api/v1/privacy/exports/", expect=202),
    Case("tenant-export-detail", "get", "privacy.manage", _fresh_tenant_export),
    Case(
        "submission-create",
        "post",
        PUBLIC,
        lambda t: f"/api/v1/s/{_fresh_survey(t, publish=True).public_link}/submit/",
        lambda t: {"answers": {"q_role": "dev", "q_nps": 9}},
        expect=201,
    ),
    Case("contact-list", "get", "distribution.manage", lambda t: "/api/v1/contacts/"),
    Case(
        "contact-list",
        "post",
        "distribution.manage",
        lambda t: "/api/v1/contacts/",
        lambda t: {"email": f"new-{uuid.uuid4().hex[:8]}@example.test", "attributes": {"team": "a"}},
        expect=201,
    ),
    # Multipart only: a JSON body passes the permission check and is refused as the wrong media type.
    Case(
        "contact-import",
        "post",
        "distribution.manage",
        lambda t: "/api/v1/contacts/import/",
        lambda t: {"file": "x"},
        expect=415,
    ),
    Case("contact-detail", "get", "distribution.manage", lambda t: f"/api/v1/contacts/{_fresh_contact(t)}/"),
    Case(
        "contact-detail",
        "patch",
        "distribution.manage",
        lambda t: f"/api/v1/contacts/{_fresh_contact(t)}/",
        lambda t: {"first_name": "Renamed"},
    ),
    Case(
        "contact-detail",
        "delete",
        "distribution.manage",
        lambda t: f"/api/v1/contacts/{_fresh_contact(t)}/",
        expect=204,
    ),
    Case("contact-list-list", "get", "distribution.manage", lambda t: "/api/v1/contact-lists/"),
    Case(
        "contact-list-list",
        "post",
        "distribution.manage",
        lambda t: "/api/v1/contact-lists/",
        lambda t: {"name": f"List {uuid.uuid4().hex[:8]}"},
        expect=201,
    ),
    Case(
        "contact-list-detail",
        "get",
        "distribution.manage",
        lambda t: f"/api/v1/contact-lists/{_fresh_contact_list(t)}/",
    ),
    Case(
        "contact-list-detail",
        "patch",
        "distribution.manage",
        lambda t: f"/api/v1/contact-lists/{_fresh_contact_list(t)}/",
        lambda t: {"description": "Changed"},
    ),
    Case(
        "contact-list-detail",
        "delete",
        "distribution.manage",
        lambda t: f"/api/v1/contact-lists/{_fresh_contact_list(t)}/",
        expect=204,
    ),
    Case(
        "contact-list-members",
        "post",
        "distribution.manage",
        lambda t: f"/api/v1/contact-lists/{_fresh_contact_list(t)}/members/",
        lambda t: {"contacts": [_fresh_contact(t)]},
    ),
    Case(
        "contact-list-members",
        "delete",
        "distribution.manage",
        lambda t: f"/api/v1/contact-lists/{_fresh_contact_list(t)}/members/",
        lambda t: {"contacts": [_fresh_contact(t)]},
    ),
    Case(
        "distribution-create",
        "get",
        "distribution.manage",
        lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/distributions/",
    ),
    Case(
        "distribution-create",
        "post",
        "distribution.manage",
        lambda t: f"{S}/{_fresh_survey(t, publish=True).pk}/distributions/",
        lambda t: {"contacts": [_fresh_contact(t)], "subject": "Hi", "message": "Please answer."},
        expect=202,
    ),
    Case(
        "distribution-detail",
        "get",
        "distribution.manage",
        lambda t: f"/api/v1/distributions/{_fresh_distribution(t)}/",
    ),
    Case(
        "distribution-invitations",
        "get",
        "distribution.manage",
        lambda t: f"/api/v1/distributions/{_fresh_distribution(t)}/invitations/",
    ),
]


def _permissions_of(role: str) -> set[str]:
    if role == "custom":
        return set(CUSTOM_ROLE_PERMISSIONS)
    if role == "anonymous":
        return set()
    return set(BUILTIN_ROLES[role][1])


def _allowed(case: Case, role: str) -> bool:
    if case.permission == PUBLIC:
        return True
    if role == "anonymous":
        return False
    return case.permission == MEMBER or case.permission in _permissions_of(role)


@pytest.fixture(scope="module")
def matrix_tenant() -> Any:
    from shared_apps.tenants.services import tenant_create
    from tests.conftest import unique_slug

    tenant = tenant_create(
        slug=unique_slug("rbac"),
        name="RBAC Ltd",
        admin_email=f"owner-{uuid.uuid4().hex[:6]}@x.test",
        admin_password="correct-horse-battery-staple",
        plan="enterprise",  # unlimited: the matrix publishes and answers far past the free plan's limits
    ).organisation
    with tenant_context(tenant):
        Role.objects.create(slug="custom_auditor", name="Custom auditor", permissions=CUSTOM_ROLE_PERMISSIONS)
    return tenant


@pytest.fixture(scope="module")
def role_clients(matrix_tenant: Any) -> dict[str, Client]:
    from shared_apps.accounts.models import User
    from tenant_apps.members.services import membership_ensure

    clients = {"anonymous": Client(HTTP_HOST=host_of(matrix_tenant))}
    for role in [*BUILTIN_ROLES, "custom"]:
        user = User.objects.create_user(f"{role}-{uuid.uuid4().hex[:6]}@example.test", "correct-horse-battery-staple")
        with tenant_context(matrix_tenant):
            membership_ensure(user=user, role_slug="custom_auditor" if role == "custom" else role)
        access = login(matrix_tenant, user.email)["access"]
        clients[role] = Client(HTTP_HOST=host_of(matrix_tenant), HTTP_AUTHORIZATION=f"Bearer {access}")
    return clients


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.route}" for c in CASES])
def test_endpoint_role_matrix(case: Case, role: str, matrix_tenant: Any, role_clients: dict[str, Client]) -> None:
    client = role_clients[role]
    path = case.path(matrix_tenant)
    kwargs: dict[str, Any] = {"content_type": "application/json"}
    if case.body is not None:
        kwargs["data"] = case.body(matrix_tenant)
    response = getattr(client, case.method)(path, **kwargs)
    assert response.status_code < 500, response.content
    if _allowed(case, role):
        assert response.status_code == dict(case.expect_by_role).get(role, case.expect), response.content
    elif role == "anonymous":
        assert response.status_code == 401, response.content
        assert response["WWW-Authenticate"].startswith("Bearer")
    else:
        assert response.status_code == 403, response.content
        assert case.permission in response.json()["error"]["message"]


def _tenant_routes() -> dict[str, type]:
    routes = {}
    for pattern in get_resolver("config.urls_tenant").url_patterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in PAGE_ROUTES:
            continue
        routes[pattern.name] = pattern.callback.view_class  # type: ignore[attr-defined]
    return routes


def test_every_endpoint_declares_a_permission_and_is_covered() -> None:
    covered = {(c.route, c.method) for c in CASES}
    for name, view_class in _tenant_routes().items():
        if name in DOC_ROUTES:
            continue
        methods = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]
        assert methods, name
        declared = view_class.required_permission
        for method in methods:
            permission = declared.get(method.upper()) if isinstance(declared, dict) else declared
            assert not isinstance(permission, NotDeclared), f"{name} {method} declares no permission"
            assert permission, f"{name} {method} declares an empty permission"
            assert (name, method) in covered, f"{name} {method} is missing from the RBAC matrix"
            case_permission = next(c.permission for c in CASES if (c.route, c.method) == (name, method))
            assert case_permission == permission, f"{name} {method}: matrix says {case_permission}, view {permission}"


def test_an_undeclared_endpoint_is_refused(tenant_a) -> None:
    """The permission class refuses a view that declares nothing (a guard for new endpoints)."""
    from rest_framework.test import APIRequestFactory

    from tenant_apps.apibase import TenantApi

    class Forgetful(TenantApi):
        authentication_classes = []

        def get(self, request):  # type: ignore[no-untyped-def]
            return None

    request = APIRequestFactory().get("/x")
    with tenant_context(tenant_a):
        response = Forgetful.as_view()(request)
    assert response.status_code == 403
    assert "declares no permission" in response.data["error"]["message"]


def test_membership_counts_are_untouched_by_the_matrix(matrix_tenant: Any) -> None:
    """Sanity: the last-admin rule kept the tenant's owner an active Admin through all the DELETEs."""
    with tenant_context(matrix_tenant):
        assert Membership.objects.filter(role__slug="admin", is_active=True).exists()
