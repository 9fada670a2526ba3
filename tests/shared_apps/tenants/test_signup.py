"""Self-service signup: validation, e-mail verification before anything is provisioned (real worker,
real SMTP), provisioning in the worker, status URL, and all-or-nothing provisioning."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.test import Client
from django_tenants.utils import schema_exists, tenant_context

from shared_apps.accounts.models import User
from shared_apps.tenants import services
from shared_apps.tenants.models import Domain, Organisation
from shared_apps.tenants.services import provisioning, tenant_create
from tenant_apps.members.models import Membership
from tests.conftest import unique_slug

PASSWORD = "a-Long-enough-passphrase-42"


def _signup(client, **overrides):
    slug = unique_slug("su")
    payload = {
        "organisation_name": "Signup Org",
        "subdomain": slug,
        "admin_email": f"owner@{slug}.test",
        "password": PASSWORD,
    }
    payload.update(overrides)
    return client.post("/api/v1/signup/", payload, content_type="application/json"), payload


def _wait_for_status(client, url, *, timeout=60.0, waiting=("unverified", "pending")):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body["status"] not in waiting:
            return body
        time.sleep(0.2)
    raise AssertionError(f"signup still {waiting} after {timeout}s")


def _link_in_email(smtp_server, to):
    message = smtp_server.wait_for(to)
    body = message.get_payload(decode=True).decode()
    return re.search(r"https?://\S+/signup/verify/\?token=\S+", body).group(0)


def _token(link):
    return parse_qs(urlsplit(link).query)["token"][0]


@pytest.mark.worker
def test_signup_provisions_nothing_until_the_email_is_verified(
    public_client, celery_worker_process, smtp_server, client_for
):
    response, payload = _signup(public_client)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "unverified"
    assert "e-mail" in body["message"]
    assert body["tenant_url"] is None
    assert response["Location"] == body["status_url"]
    assert "password" not in response.content.decode()

    # Recorded, but nothing provisioned: no schema, no domain (the host is unknown), no account yet.
    organisation = Organisation.objects.get(slug=payload["subdomain"])
    assert organisation.status == Organisation.Status.PENDING_VERIFICATION
    assert not schema_exists(organisation.schema_name)
    assert not Domain.objects.filter(tenant=organisation).exists()
    assert not User.objects.filter(email=payload["admin_email"]).exists()
    assert organisation.signup_password
    assert PASSWORD not in organisation.signup_password
    unknown = Client(HTTP_HOST=f"{payload['subdomain']}.localhost").get("/api/v1/tenant/")
    assert unknown.status_code == 404

    # The worker e-mails a signed link (real SMTP); opening it (GET) only shows a confirm button.
    link = _link_in_email(smtp_server, payload["admin_email"])
    assert link.startswith("http://localhost:8000/signup/verify/?token=")
    page = public_client.get(urlsplit(link).path + "?" + urlsplit(link).query)
    assert page.status_code == 200
    assert b"Confirm and create Signup Org" in page.content
    assert _token(link) in page.content.decode()
    organisation.refresh_from_db()
    assert organisation.status == Organisation.Status.PENDING_VERIFICATION

    verified = public_client.post("/api/v1/signup/verify/", {"token": _token(link)}, content_type="application/json")
    assert verified.status_code == 202, verified.content
    assert verified.json()["status"] in ("pending", "ready")
    final = _wait_for_status(public_client, body["status_url"])
    assert final["status"] == "ready"
    assert final["tenant_url"] == f"http://{payload['subdomain']}.localhost:8000/"

    organisation.refresh_from_db()
    assert organisation.signup_password == ""
    admin = User.objects.get(email=payload["admin_email"])
    assert admin.check_password(PASSWORD)
    with tenant_context(organisation):
        assert Membership.objects.get(user=admin).role.slug == "admin"
    assert client_for(organisation).get("/api/v1/tenant/").json()["name"] == "Signup Org"

    # Single use.
    again = public_client.post("/api/v1/signup/verify/", {"token": _token(link)}, content_type="application/json")
    assert again.status_code == 400
    assert again.json()["error"]["details"]["token"] == ["This link was already used."]


@pytest.mark.worker
def test_the_confirm_page_button_verifies(public_client, celery_worker_process, smtp_server):
    response, payload = _signup(public_client)
    link = _link_in_email(smtp_server, payload["admin_email"])
    confirmed = public_client.post("/signup/verify/", {"token": _token(link)})
    assert confirmed.status_code == 202
    assert b"being set up" in confirmed.content
    assert _wait_for_status(public_client, response.json()["status_url"])["status"] == "ready"
    replay = public_client.post("/signup/verify/", {"token": _token(link)})
    assert replay.status_code == 400
    assert b"already used" in replay.content


def test_forged_and_expired_links_are_refused(public_client, smtp_server, monkeypatch):
    _response, payload = _signup(public_client)
    organisation = Organisation.objects.get(slug=payload["subdomain"])
    forged = public_client.post("/api/v1/signup/verify/", {"token": "abc:def:ghi"}, content_type="application/json")
    assert forged.status_code == 400
    assert forged.json()["error"]["details"]["token"] == ["This link is not valid."]
    assert public_client.get("/signup/verify/?token=nonsense").status_code == 400

    # A token signed 25 hours ago (the link lives SIGNUP_VERIFICATION_HOURS = 24).
    old = int(time.time()) - 25 * 3600
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(old))
    stale = services.signup_token(organisation=organisation)
    monkeypatch.undo()
    expired = public_client.post("/api/v1/signup/verify/", {"token": stale}, content_type="application/json")
    assert expired.status_code == 400
    assert "expired" in expired.json()["error"]["details"]["token"][0]
    organisation.refresh_from_db()
    assert organisation.status == Organisation.Status.PENDING_VERIFICATION
    assert not schema_exists(organisation.schema_name)
    organisation.delete()


def test_signup_validation_reports_every_field(public_client):
    response = public_client.post(
        "/api/v1/signup/",
        {"organisation_name": "  ", "subdomain": "www", "admin_email": "not-an-email", "password": "short"},
        content_type="application/json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["details"]) >= {"organisation_name", "admin_email"}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"subdomain": "admin"}, "subdomain", "is reserved"),
        ({"subdomain": "Bad_Slug"}, "subdomain", "lowercase letters"),
        ({"password": "password123"}, "password", "too common"),
        ({"password": "12345678901234"}, "password", "entirely numeric"),
    ],
)
def test_signup_rejects_bad_input(public_client, overrides, field, message):
    response, payload = _signup(public_client, **overrides)
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert any(message in text for text in details[field]), details
    assert not Organisation.objects.filter(slug=payload["subdomain"]).exists()
    assert not User.objects.filter(email=payload["admin_email"]).exists()


def test_signup_rejects_taken_subdomain(public_client, tenant_a):
    response, _ = _signup(public_client, subdomain=tenant_a.slug)
    assert response.status_code == 400
    assert "already taken" in response.json()["error"]["details"]["subdomain"][0]


def test_signup_with_existing_account_needs_its_password(public_client, tenant_a):
    response, _ = _signup(public_client, admin_email="admin@alpha.test", password="wrong-password-here-1")
    assert response.status_code == 400
    assert "admin_email" in response.json()["error"]["details"]


def test_signup_rejects_malformed_json(public_client):
    response = public_client.post("/api/v1/signup/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_signup_status_unknown_id_is_404(public_client):
    response = public_client.get("/api/v1/signup/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_signup_is_not_served_on_tenant_hosts(client_for, tenant_a):
    response = client_for(tenant_a).post("/api/v1/signup/", {}, content_type="application/json")
    assert response.status_code == 404


def test_failed_provisioning_leaves_no_schema_and_frees_the_slug(monkeypatch):
    """A failure after the clone (here: seeding the admin) drops the schema and marks the signup failed."""
    slug = unique_slug("fail")

    def broken_seed(**kwargs):
        raise RuntimeError("seeding exploded")

    monkeypatch.setattr(provisioning, "_tenant_seed", broken_seed)
    with pytest.raises(RuntimeError, match="seeding exploded"):
        tenant_create(slug=slug, name="Doomed", admin_email=f"a@{slug}.test", admin_password=PASSWORD)
    organisation = Organisation.objects.get(slug=slug)
    assert organisation.status == Organisation.Status.FAILED
    assert "seeding exploded" in organisation.status_reason
    assert not schema_exists(organisation.schema_name)
    assert not Domain.objects.filter(tenant=organisation).exists()

    monkeypatch.undo()
    created = tenant_create(slug=slug, name="Second try", admin_email=f"a@{slug}.test")
    assert created.organisation.status == Organisation.Status.ACTIVE
    assert schema_exists(created.organisation.schema_name)


def test_failed_clone_is_rolled_back_whole(monkeypatch):
    """A failure inside the clone transaction (RLS set-up) leaves nothing: DDL is transactional."""
    slug = unique_slug("rollback")

    def broken_secure(*args, **kwargs):
        raise RuntimeError("secure failed")

    monkeypatch.setattr(provisioning.rls, "secure_schema", broken_secure)
    with pytest.raises(RuntimeError):
        tenant_create(slug=slug, name="Doomed", admin_email=f"b@{slug}.test", admin_password=PASSWORD)
    assert not schema_exists(Organisation.objects.get(slug=slug).schema_name)


def test_register_validates_plan():
    with pytest.raises(ValidationError, match="Unknown plan"):
        services.tenant_register(slug=unique_slug(), name="X", plan="platinum")


def test_a_clone_that_fails_its_isolation_check_is_not_kept(monkeypatch):
    """RLS is re-applied and then verified inside the clone's transaction."""
    slug = unique_slug("unsafe")

    def forgetful_secure(cursor, *, schema_name, app_role):  # grants nothing, secures nothing
        return 0

    monkeypatch.setattr(provisioning.rls, "secure_schema", forgetful_secure)
    with pytest.raises(services.TenantError, match="failed its isolation check"):
        tenant_create(slug=slug, name="Unsafe", admin_email=f"u@{slug}.test", admin_password=PASSWORD)
    assert not schema_exists(Organisation.objects.get(slug=slug).schema_name)
