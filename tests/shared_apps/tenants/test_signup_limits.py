"""Abuse limits on self-service signup: request rates (per IP, overall), caps on unverified signups
(overall, per e-mail), expiry of unverified signups (beat job through the real worker; the subdomain
is freed), and the operator CLI that lists and purges them."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tenants.utils import schema_exists

from shared_apps.tenants.models import Organisation
from shared_apps.tenants.tasks import signups_purge_expired_task
from tests.conftest import unique_slug

PASSWORD = "a-Long-enough-passphrase-42"
PENDING = Organisation.Status.PENDING_VERIFICATION


def _post(client, *, email=None, slug=None, ip="198.51.100.1"):
    slug = slug or unique_slug("lim")
    payload = {
        "organisation_name": "Limited Org",
        "subdomain": slug,
        "admin_email": email or f"owner-{uuid.uuid4().hex[:8]}@example.test",
        "password": PASSWORD,
    }
    return client.post("/api/v1/signup/", payload, content_type="application/json", REMOTE_ADDR=ip), slug


@pytest.fixture
def fresh_throttles():
    def _clear():
        cache.delete_many([f"throttle_signup_ip_{ip}" for ip in ("198.51.100.1", "198.51.100.2", "203.0.113.9")])
        cache.delete("throttle_signup_global_all")

    _clear()
    yield
    _clear()


@pytest.fixture
def cleanup_pending():
    slugs: list[str] = []
    yield slugs
    Organisation.objects.filter(slug__in=slugs, status=PENDING).delete()


def _backdate(slug, hours):
    Organisation.objects.filter(slug=slug).update(created_at=timezone.now() - dt.timedelta(hours=hours))


def test_signups_per_ip_are_rate_limited(public_client, settings, fresh_throttles, cleanup_pending, smtp_server):
    settings.SIGNUP_RATE_PER_IP = "2/min"
    for _ in range(2):
        response, slug = _post(public_client, ip="203.0.113.9")
        cleanup_pending.append(slug)
        assert response.status_code == 202, response.content
    response, slug = _post(public_client, ip="203.0.113.9")
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert error["request_id"]
    assert 0 < int(response["Retry-After"]) <= 60
    assert not Organisation.objects.filter(slug=slug).exists()
    # Another address is not affected.
    response, slug = _post(public_client, ip="198.51.100.2")
    cleanup_pending.append(slug)
    assert response.status_code == 202


def test_signups_overall_are_rate_limited(public_client, settings, fresh_throttles, cleanup_pending, smtp_server):
    settings.SIGNUP_RATE_GLOBAL = "2/min"
    for ip in ("198.51.100.1", "198.51.100.2"):
        response, slug = _post(public_client, ip=ip)
        cleanup_pending.append(slug)
        assert response.status_code == 202
    response, slug = _post(public_client, ip="203.0.113.9")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_unverified_signups_per_email_are_capped(public_client, cleanup_pending, smtp_server):
    email = f"busy-{uuid.uuid4().hex[:8]}@example.test"
    for _ in range(3):
        response, slug = _post(public_client, email=email)
        cleanup_pending.append(slug)
        assert response.status_code == 202
    response, slug = _post(public_client, email=email.upper())
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "too_many_pending_signups"
    assert "3 signups waiting for verification" in error["message"]
    assert not Organisation.objects.filter(slug=slug).exists()
    # An expired one no longer counts.
    _backdate(cleanup_pending[0], hours=25)
    response, slug = _post(public_client, email=email)
    cleanup_pending.append(slug)
    assert response.status_code == 202


def test_unverified_signups_overall_are_capped(public_client, settings, cleanup_pending, smtp_server):
    response, slug = _post(public_client)
    cleanup_pending.append(slug)
    assert response.status_code == 202
    settings.SIGNUP_PENDING_MAX = Organisation.objects.filter(status=PENDING).count()
    response, slug = _post(public_client)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "signup_capacity"
    assert "waiting for e-mail verification" in error["message"]
    assert response["Retry-After"] == "3600"
    assert not Organisation.objects.filter(slug=slug).exists()


@pytest.mark.worker
def test_expired_signups_are_purged_by_the_beat_job_and_free_the_slug(
    public_client, celery_worker_process, smtp_server, cleanup_pending
):
    response, old_slug = _post(public_client)
    response, fresh_slug = _post(public_client)
    cleanup_pending += [old_slug, fresh_slug]
    _backdate(old_slug, hours=25)

    purged = signups_purge_expired_task.delay().get(timeout=30)
    assert old_slug in purged
    assert fresh_slug not in purged
    assert not Organisation.objects.filter(slug=old_slug).exists()
    assert Organisation.objects.get(slug=fresh_slug).status == PENDING

    response, _slug = _post(public_client, slug=old_slug)
    assert response.status_code == 202, response.content


def test_an_expired_signup_does_not_hold_its_slug_before_the_purge(public_client, cleanup_pending, smtp_server):
    response, slug = _post(public_client)
    cleanup_pending.append(slug)
    taken, _ = _post(public_client, slug=slug)
    assert taken.status_code == 400
    assert "already taken" in taken.json()["error"]["details"]["subdomain"][0]
    _backdate(slug, hours=25)
    response, _ = _post(public_client, slug=slug)
    assert response.status_code == 202
    assert Organisation.objects.filter(slug=slug).count() == 1


def test_cli_lists_and_purges_unverified_signups(public_client, cleanup_pending, smtp_server):
    old, old_slug = _post(public_client)
    new, new_slug = _post(public_client)
    cleanup_pending += [old_slug, new_slug]
    assert (old.status_code, new.status_code) == (202, 202)
    _backdate(old_slug, hours=30)

    out = io.StringIO()
    call_command("list_tenants", "--status", "pending_verification", "--json", stdout=out)
    listed = {row["slug"]: row for row in json.loads(out.getvalue())}
    assert {old_slug, new_slug} <= set(listed)
    assert all(row["status"] == "pending_verification" for row in listed.values())

    out = io.StringIO()
    call_command("list_signups", stdout=out)
    assert old_slug in out.getvalue()
    assert new_slug in out.getvalue()

    with pytest.raises(CommandError, match="invalid choice"):
        call_command("list_tenants", "--status", "pending")

    out = io.StringIO()
    call_command("purge_signups", "--older-than", "29", "--dry-run", stdout=out)
    assert old_slug in out.getvalue()
    assert "would purge" in out.getvalue()
    assert Organisation.objects.filter(slug=old_slug).exists()

    out = io.StringIO()
    call_command("purge_signups", "--older-than", "29", stdout=out)
    assert old_slug in out.getvalue()
    assert not Organisation.objects.filter(slug=old_slug).exists()
    assert Organisation.objects.filter(slug=new_slug, status=PENDING).exists()


def test_operator_create_tenant_still_provisions_at_once():
    slug = unique_slug("op")
    out = io.StringIO()
    call_command("create_tenant", "--slug", slug, "--name", "Operator", "--admin-email", f"a@{slug}.test", stdout=out)
    organisation = Organisation.objects.get(slug=slug)
    assert organisation.status == Organisation.Status.ACTIVE
    assert schema_exists(organisation.schema_name)


def test_concurrent_signups_cannot_overrun_the_per_email_cap(public_client, cleanup_pending, smtp_server):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    email = f"race-{uuid.uuid4().hex[:8]}@example.test"
    slugs = [unique_slug("race") for _ in range(6)]
    cleanup_pending += slugs

    def attempt(slug):
        try:
            return _post(public_client, email=email, slug=slug)[0].status_code
        finally:
            connection.close()  # this thread's connection

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = sorted(pool.map(attempt, slugs))
    assert codes == [202, 202, 202, 409, 409, 409]
    assert Organisation.objects.filter(signup_email=email, status=PENDING).count() == 3
