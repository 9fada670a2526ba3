"""Members, invitations and roles: behaviour, last-admin rule, immediate permission changes,
cross-tenant isolation, query counts."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tenant_apps.members.models import Invitation, Membership, Role
from tests.conftest import host_of, login


def _json(client, method, path, data=None):
    return getattr(client, method)(path, data, content_type="application/json")


def _membership_id(tenant, user):
    with tenant_context(tenant):
        return Membership.objects.get(user=user).pk


@pytest.mark.worker
def test_invitation_email_accept_and_single_use(
    tenant_a, make_member, api_client_for, smtp_server, celery_worker_process
):
    admin = make_member(tenant_a, "admin")
    client = api_client_for(admin, tenant_a)
    email = "invitee-one@example.test"
    created = _json(client, "post", "/api/v1/invitations/", {"email": email, "role": "survey_creator"})
    assert created.status_code == 201, created.content
    assert created.json()["role"] == "survey_creator"

    message = smtp_server.wait_for(email)
    assert "Invitation to join Alpha Ltd" in message["Subject"]
    link = re.search(r"https?://\S+invitations/accept\?\S+", message.get_payload()).group(0)
    assert urlparse(link).hostname == host_of(tenant_a)
    token = parse_qs(urlparse(link).query)["token"][0]

    anonymous = Client(HTTP_HOST=host_of(tenant_a))
    no_password = _json(anonymous, "post", "/api/v1/invitations/accept/", {"token": token})
    assert no_password.status_code == 400
    assert "password" in no_password.json()["error"]["details"]
    accepted = _json(
        anonymous,
        "post",
        "/api/v1/invitations/accept/",
        {"token": token, "password": "invitee-passphrase-77", "full_name": "Ivy Invitee"},
    )
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["role"] == "survey_creator"
    assert login(tenant_a, email, "invitee-passphrase-77")["access"]

    again = _json(anonymous, "post", "/api/v1/invitations/accept/", {"token": token, "password": "x-y-z-12345678"})
    assert again.status_code == 400
    assert "invalid, expired or already used" in again.json()["error"]["details"]["token"][0]


def test_invitation_token_is_bound_to_its_tenant_and_revocable(tenant_a, tenant_b, make_member):
    from tenant_apps.members.services import invitation_create, invitation_token

    admin = make_member(tenant_a, "admin")
    with tenant_context(tenant_a):
        invitation = invitation_create(
            email="bound@example.test", role=Role.objects.get(slug="analyst"), invited_by_id=admin.pk
        )
        token = invitation_token(invitation)
    other_host = Client(HTTP_HOST=host_of(tenant_b))
    assert (
        _json(
            other_host, "post", "/api/v1/invitations/accept/", {"token": token, "password": "bound-passphrase-1"}
        ).status_code
        == 400
    )
    client = Client(HTTP_HOST=host_of(tenant_a))
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert (
        _json(
            client, "post", "/api/v1/invitations/accept/", {"token": tampered, "password": "bound-passphrase-1"}
        ).status_code
        == 400
    )

    admin_client = Client(
        HTTP_HOST=host_of(tenant_a), HTTP_AUTHORIZATION=f"Bearer {login(tenant_a, admin.email)['access']}"
    )
    assert admin_client.delete(f"/api/v1/invitations/{invitation.pk}/").status_code == 204
    assert (
        _json(
            client, "post", "/api/v1/invitations/accept/", {"token": token, "password": "bound-passphrase-1"}
        ).status_code
        == 400
    )


def test_expired_invitation_is_refused(tenant_a, make_member):
    from django.utils import timezone

    from tenant_apps.members.services import invitation_create, invitation_token

    admin = make_member(tenant_a, "admin")
    with tenant_context(tenant_a):
        invitation = invitation_create(
            email="late@example.test", role=Role.objects.get(slug="analyst"), invited_by_id=admin.pk
        )
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
        token = invitation_token(invitation)
    response = _json(
        Client(HTTP_HOST=host_of(tenant_a)),
        "post",
        "/api/v1/invitations/accept/",
        {"token": token, "password": "late-passphrase-123"},
    )
    assert response.status_code == 400


def test_inviting_an_existing_member_is_400(tenant_a, make_member, api_client_for):
    admin = make_member(tenant_a, "admin")
    member = make_member(tenant_a, "analyst")
    response = _json(
        api_client_for(admin, tenant_a), "post", "/api/v1/invitations/", {"email": member.email, "role": "analyst"}
    )
    assert response.status_code == 400
    assert "already a member" in response.json()["error"]["details"]["email"][0]


def test_last_admin_cannot_be_removed_demoted_or_deactivated(make_tenant, api_client_for):
    tenant = make_tenant()
    from shared_apps.accounts.models import User

    with tenant_context(tenant):
        admin = User.objects.get(pk=Membership.objects.get(role__slug="admin").user_id)
    client = api_client_for(admin, tenant)
    membership_id = _membership_id(tenant, admin)
    for method, data in (("patch", {"role": "analyst"}), ("patch", {"is_active": False}), ("delete", None)):
        response = _json(client, method, f"/api/v1/members/{membership_id}/", data)
        assert response.status_code == 400, (method, data)
        assert response.json()["error"]["code"] == "membership_refused"
        assert "last active Admin" in response.json()["error"]["message"]
    with tenant_context(tenant):
        assert Membership.objects.get(pk=membership_id).role.slug == "admin"


def test_role_change_takes_effect_on_the_next_request(tenant_a, make_member, api_client_for):
    admin = make_member(tenant_a, "admin")
    analyst = make_member(tenant_a, "analyst")
    analyst_client = api_client_for(analyst, tenant_a)
    assert analyst_client.get("/api/v1/members/").status_code == 403  # cache now warm with 'analyst'

    promote = _json(
        api_client_for(admin, tenant_a),
        "patch",
        f"/api/v1/members/{_membership_id(tenant_a, analyst)}/",
        {"role": "admin"},
    )
    assert promote.status_code == 200
    assert analyst_client.get("/api/v1/members/").status_code == 200
    assert "user.manage" in analyst_client.get("/api/v1/me/").json()["permissions"]


def test_custom_role_crud_and_edit_takes_effect_at_once(tenant_a, make_member, api_client_for):
    admin_client = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    created = _json(
        admin_client,
        "post",
        "/api/v1/roles/",
        {"name": "Auditor", "description": "Reads the audit log", "permissions": ["audit.view"]},
    )
    assert created.status_code == 201, created.content
    role = created.json()
    assert role["slug"] == "auditor"
    assert role["is_builtin"] is False

    auditor = make_member(tenant_a, "auditor")
    auditor_client = api_client_for(auditor, tenant_a)
    assert auditor_client.get("/api/v1/audit/").status_code == 200

    edited = _json(admin_client, "patch", f"/api/v1/roles/{role['id']}/", {"permissions": ["survey.view"]})
    assert edited.status_code == 200
    assert auditor_client.get("/api/v1/audit/").status_code == 403  # next request

    in_use = admin_client.delete(f"/api/v1/roles/{role['id']}/")
    assert in_use.status_code == 400
    assert "reassign them first" in in_use.json()["error"]["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Bad", "permissions": ["survey.fly"]},
        {"name": "", "permissions": []},
        {"name": "Admin", "permissions": []},
        {"name": "X", "permissions": "survey.view"},
    ],
)
def test_role_input_is_validated(tenant_a, make_member, api_client_for, payload):
    response = _json(api_client_for(make_member(tenant_a, "admin"), tenant_a), "post", "/api/v1/roles/", payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_builtin_roles_cannot_be_deleted_or_edited(tenant_a, make_member, api_client_for):
    client = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    with tenant_context(tenant_a):
        builtin_ids = list(Role.objects.filter(is_builtin=True).values_list("pk", flat=True))
    assert len(builtin_ids) == 4
    for role_id in builtin_ids:
        assert client.delete(f"/api/v1/roles/{role_id}/").status_code == 400
        assert _json(client, "patch", f"/api/v1/roles/{role_id}/", {"permissions": []}).status_code == 400


def test_member_list_query_count_does_not_grow(make_tenant, make_member, api_client_for):
    tenant = make_tenant()  # a small tenant: every member fits on the first page
    client = api_client_for(make_member(tenant, "admin"), tenant)
    client.get("/api/v1/members/")  # warm the permission cache
    with CaptureQueriesContext(connection) as few:
        first = client.get("/api/v1/members/")
    for _ in range(5):
        make_member(tenant, "analyst")
    with CaptureQueriesContext(connection) as more:
        second = client.get("/api/v1/members/")
    assert len(second.json()["results"]) == len(first.json()["results"]) + 5
    # SET public, the tenant lookup, SET tenant, one page query: constant, whatever the page holds.
    assert len(more) == len(few) <= 4, [q["sql"][:150] for q in more.captured_queries]


def _id_only_in_b(tenant_a, tenant_b, model, create):
    """Create rows in tenant B until one has an id that tenant A does not use, so a 404 on A
    proves isolation rather than a missing row."""
    with tenant_context(tenant_a):
        a_ids = set(model.objects.values_list("pk", flat=True))
    for _ in range(500):
        with tenant_context(tenant_b):
            pk = create()
        if pk not in a_ids:
            return pk
    raise AssertionError("could not find an id free in tenant A")


def test_cross_tenant_ids_are_404(tenant_a, tenant_b, make_member, api_client_for):
    """Data in tenant B, request as tenant A's admin: every detail endpoint answers 404."""
    import uuid

    from django.utils import timezone

    from shared_apps.accounts.models import User
    from tenant_apps.members.services import membership_ensure

    def new_membership():
        user = User.objects.create_user(f"b-{uuid.uuid4().hex[:8]}@example.test", "x-Long-password-1")
        return membership_ensure(user=user, role_slug="analyst").pk

    client = api_client_for(make_member(tenant_a, "admin"), tenant_a)  # before: it adds a row in A
    b_membership = _id_only_in_b(tenant_a, tenant_b, Membership, new_membership)
    b_role = _id_only_in_b(
        tenant_a,
        tenant_b,
        Role,
        lambda: (
            Role.objects.create(slug=f"b_{uuid.uuid4().hex[:6]}", name=f"B {uuid.uuid4().hex[:6]}", permissions=[]).pk
        ),
    )
    b_invitation = _id_only_in_b(
        tenant_a,
        tenant_b,
        Invitation,
        lambda: (
            Invitation.objects.create(
                email="b-only@example.test",
                role=Role.objects.get(slug="analyst"),
                nonce=uuid.uuid4().hex,
                expires_at=timezone.now() + timezone.timedelta(days=1),
            ).pk
        ),
    )

    assert client.get(f"/api/v1/members/{b_membership}/").status_code == 404
    assert _json(client, "patch", f"/api/v1/members/{b_membership}/", {"role": "admin"}).status_code == 404
    assert client.delete(f"/api/v1/members/{b_membership}/").status_code == 404
    assert client.get(f"/api/v1/roles/{b_role}/").status_code == 404
    assert _json(client, "patch", f"/api/v1/roles/{b_role}/", {"permissions": []}).status_code == 404
    assert client.delete(f"/api/v1/roles/{b_role}/").status_code == 404
    assert client.delete(f"/api/v1/invitations/{b_invitation}/").status_code == 404
    with tenant_context(tenant_b):
        b_email = Membership.objects.select_related("user").get(pk=b_membership).user.email
        assert Membership.objects.get(pk=b_membership).role.slug == "analyst"
        assert Role.objects.filter(pk=b_role).exists()
        assert Invitation.objects.get(pk=b_invitation).revoked_at is None
    listed = {row["email"] for row in client.get("/api/v1/members/").json()["results"]}
    assert b_email not in listed
