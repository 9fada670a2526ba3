"""JWT on the tenant host: tenant binding, rotation, reuse detection, logout, password change/reset,
deactivation and removal revoke; lockout and unlock."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django_tenants.utils import tenant_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.members.models import Membership
from tests.conftest import PASSWORD, host_of, login


def _post(tenant, path, data, **headers):
    return Client(HTTP_HOST=host_of(tenant), **headers).post(path, data, content_type="application/json")


def _me(tenant, access):
    return Client(HTTP_HOST=host_of(tenant), HTTP_AUTHORIZATION=f"Bearer {access}").get("/api/v1/me/")


def _refresh(tenant, refresh):
    return _post(tenant, "/api/v1/auth/token/refresh/", {"refresh": refresh})


def _latest(tenant, action):
    with tenant_context(tenant):
        return AuditEvent.objects.filter(action=action).order_by("-occurred_at", "-id").first()


def test_login_returns_tokens_and_me_describes_the_caller(tenant_a, make_member):
    user = make_member(tenant_a, "analyst")
    tokens = login(tenant_a, user.email)
    assert tokens["token_type"] == "Bearer"
    body = _me(tenant_a, tokens["access"]).json()
    assert body["user"] == {"id": user.pk, "email": user.email}
    assert body["tenant"]["slug"] == tenant_a.slug
    assert body["role"] == {"slug": "analyst", "name": "Analyst"}
    assert body["permissions"] == ["analytics.view", "submission.export", "submission.view", "survey.view"]
    event = _latest(tenant_a, "auth.login")
    assert event.actor_id == user.pk
    assert event.channel == "api"


def test_wrong_password_is_401_and_audited_without_the_email(tenant_a, make_member):
    user = make_member(tenant_a, "analyst")
    response = _post(
        tenant_a, "/api/v1/auth/token/", {"email": user.email, "password": "wrong-password"}, REMOTE_ADDR="10.9.8.7"
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid email or password."
    event = _latest(tenant_a, "auth.login_failed")
    assert event.actor_kind == "anonymous"
    assert user.email not in str(event.changes)
    assert event.changes["reason"] == "bad_credentials"
    assert event.ip == "10.9.8.7"


def test_token_of_tenant_a_is_rejected_on_tenant_b(tenant_a, tenant_b, make_member):
    user = make_member(tenant_a, "admin")
    with tenant_context(tenant_b):  # even a member of both: tokens are per tenant
        from tenant_apps.members.services import membership_ensure

        membership_ensure(user=user, role_slug="admin")
    tokens = login(tenant_a, user.email)
    response = _me(tenant_b, tokens["access"])
    assert response.status_code == 401
    assert "another organisation" in response.json()["error"]["message"]
    assert _refresh(tenant_b, tokens["refresh"]).status_code == 401
    assert _me(tenant_a, tokens["access"]).status_code == 200


def test_user_without_membership_cannot_sign_in_or_use_a_token(tenant_a, tenant_b, make_member):
    user = make_member(tenant_b, "admin")
    response = _post(tenant_a, "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 401


def test_refresh_rotates_and_old_refresh_token_is_dead(tenant_a, make_member):
    user = make_member(tenant_a, "analyst")
    first = login(tenant_a, user.email)
    second = _refresh(tenant_a, first["refresh"])
    assert second.status_code == 200
    second = second.json()
    assert second["refresh"] != first["refresh"]
    assert _me(tenant_a, second["access"]).status_code == 200
    third = _refresh(tenant_a, second["refresh"])
    assert third.status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(tenant_a, make_member):
    user = make_member(tenant_a, "analyst")
    first = login(tenant_a, user.email)
    second = _refresh(tenant_a, first["refresh"]).json()
    # An attacker replays the first (already rotated) refresh token:
    assert _refresh(tenant_a, first["refresh"]).status_code == 401
    # ...so the legitimate holder's newer tokens die too.
    assert _refresh(tenant_a, second["refresh"]).status_code == 401
    assert _me(tenant_a, second["access"]).status_code == 401
    assert _latest(tenant_a, "auth.refresh_reuse_detected").actor_id == user.pk
    # Another session of the same user is untouched.
    other = login(tenant_a, user.email)
    assert _me(tenant_a, other["access"]).status_code == 200


def test_logout_revokes_refresh_and_access(tenant_a, make_member):
    user = make_member(tenant_a, "analyst")
    tokens = login(tenant_a, user.email)
    assert _post(tenant_a, "/api/v1/auth/logout/", {"refresh": tokens["refresh"]}).status_code == 204
    assert _refresh(tenant_a, tokens["refresh"]).status_code == 401
    assert _me(tenant_a, tokens["access"]).status_code == 401
    assert _post(tenant_a, "/api/v1/auth/logout/", {"refresh": tokens["refresh"]}).status_code == 401
    assert _latest(tenant_a, "auth.logout").actor_id == user.pk


def test_forged_and_malformed_tokens_are_401(tenant_a, make_member):
    user = make_member(tenant_a, "analyst")
    tokens = login(tenant_a, user.email)
    header, payload, signature = tokens["access"].split(".")
    forged = f"{header}.{payload}.{signature[:-2]}xx"
    assert _me(tenant_a, forged).status_code == 401
    assert _me(tenant_a, "not-a-jwt").status_code == 401
    assert Client(HTTP_HOST=host_of(tenant_a), HTTP_AUTHORIZATION="Bearer a b").get("/api/v1/me/").status_code == 401
    assert _refresh(tenant_a, "garbage").status_code == 401
    assert _refresh(tenant_a, tokens["access"]).status_code == 401  # an access token is not a refresh token


def test_expired_access_token_is_401(tenant_a, make_member):
    from rest_framework_simplejwt.tokens import AccessToken

    user = make_member(tenant_a, "analyst")
    token = AccessToken(login(tenant_a, user.email)["access"])
    token.set_exp(lifetime=timedelta(seconds=-1))  # same signing key: only the expiry differs
    response = _me(tenant_a, str(token))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_access_token_lifetime_defaults_to_five_minutes(settings):
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() == 300


def test_password_change_revokes_every_session(tenant_a, make_member):
    user = make_member(tenant_a, "analyst")
    one, two = login(tenant_a, user.email), login(tenant_a, user.email)
    client = Client(HTTP_HOST=host_of(tenant_a), HTTP_AUTHORIZATION=f"Bearer {one['access']}")
    weak = client.post(
        "/api/v1/auth/password/change/",
        {"current_password": PASSWORD, "new_password": "123"},
        content_type="application/json",
    )
    assert weak.status_code == 400
    assert "new_password" in weak.json()["error"]["details"]
    wrong = client.post(
        "/api/v1/auth/password/change/",
        {"current_password": "nope-nope-nope", "new_password": "a-brand-new-passphrase-9"},
        content_type="application/json",
    )
    assert wrong.status_code == 400
    ok = client.post(
        "/api/v1/auth/password/change/",
        {"current_password": PASSWORD, "new_password": "a-brand-new-passphrase-9"},
        content_type="application/json",
    )
    assert ok.status_code == 204
    for tokens in (one, two):
        assert _refresh(tenant_a, tokens["refresh"]).status_code == 401
        assert _me(tenant_a, tokens["access"]).status_code == 401
    assert login(tenant_a, user.email, "a-brand-new-passphrase-9")["access"]
    assert _latest(tenant_a, "auth.password_changed").changes["sessions_revoked"] == 2


def _deactivate_or_remove(client, membership_id, remove):
    if remove:
        return client.delete(f"/api/v1/members/{membership_id}/")
    return client.patch(f"/api/v1/members/{membership_id}/", {"is_active": False}, content_type="application/json")


@pytest.mark.parametrize("remove", [False, True], ids=["deactivate", "remove"])
def test_deactivation_and_removal_revoke_tokens(tenant_a, make_member, api_client_for, remove):
    admin = make_member(tenant_a, "admin")
    target = make_member(tenant_a, "analyst")
    tokens = login(tenant_a, target.email)
    with tenant_context(tenant_a):
        membership_id = Membership.objects.get(user=target).pk
    response = _deactivate_or_remove(api_client_for(admin, tenant_a), membership_id, remove)
    assert response.status_code in (200, 204)
    assert _me(tenant_a, tokens["access"]).status_code == 401
    assert _refresh(tenant_a, tokens["refresh"]).status_code == 401
    assert _post(tenant_a, "/api/v1/auth/token/", {"email": target.email, "password": PASSWORD}).status_code == 401
    assert _latest(tenant_a, "auth.tokens_revoked").target_id == str(target.pk)


@pytest.mark.worker
def test_password_reset_by_email_single_use(tenant_a, make_member, smtp_server, celery_worker_process):
    user = make_member(tenant_a, "analyst")
    session = login(tenant_a, user.email)
    assert _post(tenant_a, "/api/v1/auth/password/reset/", {"email": user.email}).status_code == 202
    # Unknown addresses get the same answer (no enumeration) and no email.
    assert _post(tenant_a, "/api/v1/auth/password/reset/", {"email": "ghost@example.test"}).status_code == 202
    message = smtp_server.wait_for(user.email)
    link = re.search(r"https?://\S+password-reset\?\S+", message.get_payload()).group(0)
    assert urlparse(link).hostname == host_of(tenant_a)
    query = parse_qs(urlparse(link).query)
    payload = {"uid": query["uid"][0], "token": query["token"][0], "new_password": "reset-passphrase-2026!"}
    assert _post(tenant_a, "/api/v1/auth/password/reset/confirm/", payload).status_code == 204
    assert login(tenant_a, user.email, "reset-passphrase-2026!")["access"]
    assert _me(tenant_a, session["access"]).status_code == 401  # old sessions revoked
    replay = _post(tenant_a, "/api/v1/auth/password/reset/confirm/", {**payload, "new_password": "another-one-2026!"})
    assert replay.status_code == 400
    assert "token" in replay.json()["error"]["details"]


def test_password_reset_confirm_rejects_forged_token(tenant_a, make_member):
    user = make_member(tenant_a, "analyst")
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    response = _post(
        tenant_a,
        "/api/v1/auth/password/reset/confirm/",
        {"uid": urlsafe_base64_encode(force_bytes(user.pk)), "token": "abc-123", "new_password": "whatever-12345!"},
    )
    assert response.status_code == 400
    response = _post(
        tenant_a,
        "/api/v1/auth/password/reset/confirm/",
        {"uid": "%%%", "token": "abc-123", "new_password": "whatever-12345!"},
    )
    assert response.status_code == 400


@override_settings(AXES_FAILURE_LIMIT=3)
def test_lockout_after_failures_then_cli_unlock(tenant_a, make_member, capsys):
    user = make_member(tenant_a, "analyst")
    ip = "203.0.113.77"
    for _ in range(2):
        assert (
            _post(
                tenant_a, "/api/v1/auth/token/", {"email": user.email, "password": "bad-guess"}, REMOTE_ADDR=ip
            ).status_code
            == 401
        )
    # The third failure reaches the limit and is answered with the lockout.
    assert (
        _post(
            tenant_a, "/api/v1/auth/token/", {"email": user.email, "password": "bad-guess"}, REMOTE_ADDR=ip
        ).status_code
        == 429
    )
    locked = _post(tenant_a, "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, REMOTE_ADDR=ip)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "locked_out"
    assert "Too many failed sign-in attempts" in locked.json()["error"]["message"]
    assert int(locked["Retry-After"]) > 0
    # The account is locked from any address too (account OR address).
    assert (
        _post(
            tenant_a, "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, REMOTE_ADDR="198.51.100.1"
        ).status_code
        == 429
    )

    call_command("lockouts", tenant_a.slug)
    listing = capsys.readouterr().out
    assert user.email in listing
    assert ip in listing
    call_command("lockouts", tenant_a.slug, "--clear", "--email", user.email)
    call_command("lockouts", tenant_a.slug, "--clear", "--ip", ip)
    assert (
        _post(tenant_a, "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, REMOTE_ADDR=ip).status_code
        == 200
    )
    assert _latest(tenant_a, "auth.lockout_cleared").channel == "cli"


@override_settings(AXES_FAILURE_LIMIT=3)
def test_lockout_is_per_tenant(tenant_a, tenant_b, make_member):
    user = make_member(tenant_a, "analyst")
    with tenant_context(tenant_b):
        from tenant_apps.members.services import membership_ensure

        membership_ensure(user=user, role_slug="analyst")
    for _ in range(4):
        _post(tenant_a, "/api/v1/auth/token/", {"email": user.email, "password": "bad"}, REMOTE_ADDR="192.0.2.5")
    assert (
        _post(
            tenant_b, "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, REMOTE_ADDR="192.0.2.6"
        ).status_code
        == 200
    )


# --- the browser app's refresh cookie ----------------------------------------------------------------


def _cookie_login(tenant, email, secure=False):
    client = Client(HTTP_HOST=host_of(tenant))
    response = client.post(
        "/api/v1/auth/token/",
        {"email": email, "password": PASSWORD, "refresh_transport": "cookie"},
        content_type="application/json",
        secure=secure,
    )
    return client, response


def test_cookie_login_keeps_the_refresh_token_out_of_the_body(tenant_a, make_member):
    user = make_member(tenant_a, role="survey_creator")
    _, response = _cookie_login(tenant_a, user.email)
    assert response.status_code == 200
    assert set(response.json()) == {"access", "token_type"}
    cookie = response.cookies["refresh_token"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/v1/auth/"
    assert cookie["domain"] == ""  # host-only: bound to this tenant's host
    assert not cookie["secure"]  # plain http in tests; Secure on https (next test)
    assert _me(tenant_a, response.json()["access"]).status_code == 200


def test_cookie_is_secure_on_https(tenant_a, make_member):
    user = make_member(tenant_a, role="survey_creator")
    _, response = _cookie_login(tenant_a, user.email, secure=True)
    assert response.cookies["refresh_token"]["secure"] is True


def test_cookie_refresh_rotates_needs_the_csrf_header_and_logout_clears_it(tenant_a, make_member):
    user = make_member(tenant_a, role="survey_creator")
    client, response = _cookie_login(tenant_a, user.email)
    first = response.cookies["refresh_token"].value
    # Without the custom header (what a cross-site form post would look like): refused, cookie untouched.
    refused = client.post("/api/v1/auth/token/refresh/", {}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    refreshed = client.post(
        "/api/v1/auth/token/refresh/", {}, content_type="application/json", HTTP_X_REQUESTED_WITH="fetch"
    )
    assert refreshed.status_code == 200, refreshed.content
    assert "refresh" not in refreshed.json()
    second = refreshed.cookies["refresh_token"].value
    assert second != first
    assert _refresh(tenant_a, first).status_code == 401  # rotated: the old one is dead (and revokes the family)


def test_cookie_logout_revokes_and_clears(tenant_a, make_member):
    user = make_member(tenant_a, role="survey_creator")
    client, response = _cookie_login(tenant_a, user.email)
    raw = response.cookies["refresh_token"].value
    out = client.post("/api/v1/auth/logout/", {}, content_type="application/json", HTTP_X_REQUESTED_WITH="fetch")
    assert out.status_code == 204
    assert out.cookies["refresh_token"].value == ""
    assert out.cookies["refresh_token"]["max-age"] == 0
    assert _refresh(tenant_a, raw).status_code == 401
    # With no cookie and no body the refresh is a 400 in the error shape, not a 500.
    empty = Client(HTTP_HOST=host_of(tenant_a)).post("/api/v1/auth/token/refresh/", {}, content_type="application/json")
    assert empty.status_code == 400
    assert "refresh" in empty.json()["error"]["details"]


def test_a_dead_refresh_cookie_is_cleared(tenant_a, make_member):
    client = Client(HTTP_HOST=host_of(tenant_a))
    client.cookies["refresh_token"] = "garbage"
    response = client.post(
        "/api/v1/auth/token/refresh/", {}, content_type="application/json", HTTP_X_REQUESTED_WITH="fetch"
    )
    assert response.status_code == 401
    assert response.cookies["refresh_token"].value == ""
