"""Operator CLI: create, list, suspend/resume, delete (soft and hard), with clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from shared_apps.accounts.models import User
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import tenant_purge_due
from tenant_apps.members.models import Membership
from tenant_apps.surveys.models import Survey
from tests.conftest import ROOT, unique_slug


def test_create_tenant_prints_url_and_credentials(capsys, client_for):
    slug = unique_slug("cli")
    call_command(
        "create_tenant",
        "--slug",
        slug,
        "--name",
        "CLI Co",
        "--admin-email",
        f"boss@{slug}.test",
        "--plan",
        "team",
        "--demo",
    )
    out = capsys.readouterr().out
    assert f"URL:            http://{slug}.localhost:8000/" in out
    password = out.split("Admin password: ")[1].split()[0]
    organisation = Organisation.objects.get(slug=slug)
    assert organisation.status == Organisation.Status.ACTIVE
    assert organisation.plan == "team"
    admin = User.objects.get(email=f"boss@{slug}.test")
    assert admin.check_password(password)
    with tenant_context(organisation):
        assert Membership.objects.get(user=admin).role.slug == "admin"
        assert Survey.objects.count() == 1
    response = client_for(organisation).get("/api/v1/tenant/")
    assert response.status_code == 200
    assert response.json()["name"] == "CLI Co"


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("www", "is reserved"),
        ("api", "is reserved"),
        ("Acme", "lowercase letters"),
        ("ab", "3 to 40 characters"),
        ("-acme", "starting with a letter"),
        ("acme-", "not ending with a hyphen"),
        ("acme_corp", "lowercase letters"),
        ("a--b", "two hyphens"),
        ("x" * 41, "3 to 40 characters"),
    ],
)
def test_create_tenant_refuses_reserved_and_malformed_slugs(slug, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_tenant", f"--slug={slug}", "--name", "X", "--admin-email", "x@example.test")
    assert not Organisation.objects.filter(slug=slug).exists()


def test_create_tenant_refuses_taken_slug(tenant_a):
    with pytest.raises(CommandError, match="already taken"):
        call_command("create_tenant", "--slug", tenant_a.slug, "--name", "X", "--admin-email", "x@example.test")


def test_create_tenant_refuses_weak_password():
    slug = unique_slug()
    with pytest.raises(CommandError, match=r"too short|too common"):
        call_command(
            "create_tenant", "--slug", slug, "--name", "X", "--admin-email", f"a@{slug}.test", "--admin-password", "123"
        )
    assert not Organisation.objects.filter(slug=slug).exists()


def test_list_tenants_json(tenant_a, tenant_b, capsys):
    call_command("list_tenants", "--json")
    rows = {row["slug"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[tenant_a.slug]["status"] == "active"
    assert rows[tenant_a.slug]["schema"] == tenant_a.schema_name
    assert rows[tenant_b.slug]["url"] == f"http://{tenant_b.slug}.localhost:8000/"
    assert "template" not in rows
    assert "platform" not in rows


def test_list_tenants_table(tenant_a, capsys):
    call_command("list_tenants")
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["SLUG", "STATUS", "PLAN", "BILLING", "RESPONSES/MONTH", "SCHEMA", "URL"]
    assert any(line.startswith(tenant_a.slug) and "active" in line for line in out.splitlines())


def test_suspend_and_resume(make_tenant, client_for, capsys):
    organisation = make_tenant()
    client = client_for(organisation)
    assert client.get("/api/v1/tenant/").status_code == 200

    call_command("suspend_tenant", organisation.slug, "--reason", "unpaid invoice")
    response = client.get("/api/v1/tenant/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_suspended"
    assert "suspended" in response.json()["error"]["message"]
    with tenant_context(organisation):
        assert Survey.objects.exists() or Membership.objects.exists()  # data kept

    with pytest.raises(CommandError, match="only an active one can be suspended"):
        call_command("suspend_tenant", organisation.slug)

    call_command("resume_tenant", organisation.slug)
    assert client.get("/api/v1/tenant/").status_code == 200
    with pytest.raises(CommandError, match="only a suspended one can be resumed"):
        call_command("resume_tenant", organisation.slug)


def test_unknown_slug_is_a_clear_error():
    with pytest.raises(CommandError, match="No organisation with the subdomain 'no-such-org'"):
        call_command("suspend_tenant", "no-such-org")


def test_soft_delete_keeps_data_and_stops_serving(make_tenant, client_for, capsys):
    organisation = make_tenant()
    call_command("delete_tenant", organisation.slug)
    assert "will be purged after" in capsys.readouterr().out
    organisation.refresh_from_db()
    assert organisation.status == Organisation.Status.PENDING_DELETION
    assert organisation.purge_after > timezone.now() + timedelta(days=29)
    assert schema_exists(organisation.schema_name)
    assert client_for(organisation).get("/api/v1/tenant/").status_code == 404


def test_hard_delete_needs_yes_then_drops_schema(make_tenant, client_for):
    organisation = make_tenant()
    with pytest.raises(CommandError, match="add --yes"):
        call_command("delete_tenant", organisation.slug, "--hard")
    assert schema_exists(organisation.schema_name)
    call_command("delete_tenant", organisation.slug, "--hard", "--yes")
    assert not schema_exists(organisation.schema_name)
    assert not Organisation.objects.filter(pk=organisation.pk).exists()
    assert client_for(organisation).get("/api/v1/tenant/").json()["error"]["code"] == "tenant_not_found"


def test_purge_drops_only_tenants_past_their_grace_period(make_tenant):
    due, not_due = make_tenant(), make_tenant()
    call_command("delete_tenant", due.slug)
    call_command("delete_tenant", not_due.slug)
    Organisation.objects.filter(pk=due.pk).update(purge_after=timezone.now() - timedelta(minutes=1))
    purged = tenant_purge_due()
    assert due.schema_name in purged
    assert not schema_exists(due.schema_name)
    assert schema_exists(not_due.schema_name)


def test_cli_exit_codes_and_help():
    # The test database and services of this session (TEST_*), nothing else from the environment.
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PATH": "/usr/bin:/bin",
        **{k: v for k, v in os.environ.items() if k.startswith("TEST_")},
    }
    ok = subprocess.run(
        [sys.executable, "manage.py", "suspend_tenant", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0
    assert "Suspend an organisation" in ok.stdout
    failed = subprocess.run(
        [sys.executable, "manage.py", "resume_tenant", "no-such-org"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 1
    assert "No organisation with the subdomain 'no-such-org'" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_update_tenant_rate_limits_and_plan(make_tenant, capsys):
    organisation = make_tenant()
    call_command("update_tenant", organisation.slug, "--rate-limit-user", "300/min", "--plan", "business")
    organisation.refresh_from_db()
    assert (organisation.rate_limit_user, organisation.plan) == ("300/min", "business")
    with pytest.raises(CommandError, match="is not a rate"):
        call_command("update_tenant", organisation.slug, "--rate-limit-anon", "lots")
    organisation.refresh_from_db()
    assert organisation.rate_limit_anon == ""
    call_command("update_tenant", organisation.slug, "--rate-limit-user", "")
    organisation.refresh_from_db()
    assert organisation.rate_limit_user == ""
    from tenant_apps.audit.models import AuditEvent

    with tenant_context(organisation):
        assert AuditEvent.objects.filter(action="tenant.updated").count() == 2
        assert AuditEvent.objects.filter(action="tenant.provisioned").count() == 1
