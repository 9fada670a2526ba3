"""The operators' admin through its real pages, on the platform host (and not on tenant hosts)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from django.conf import settings
from django.db import ProgrammingError, connection, transaction
from django.test import Client
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.operators.admin import operator_site
from shared_apps.operators.models import OperatorEvent
from shared_apps.tenants.models import Domain, Organisation
from tenant_apps.audit.models import AuditEvent
from tests.conftest import PASSWORD, ROOT, host_of
from tests.factories import UserFactory


def _email() -> str:
    return f"operator-{uuid.uuid4().hex[:8]}@platform.test"


@pytest.fixture
def operator() -> User:
    return User.objects.create_superuser(_email(), PASSWORD)


@pytest.fixture
def admin_client(operator: User) -> Client:
    client = Client(HTTP_HOST=settings.PLATFORM_DOMAIN, HTTP_USER_AGENT="pytest-admin")
    response = client.post("/admin/login/?next=/admin/", {"username": operator.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def _events(actor: User | None = None, **filters: Any) -> list[OperatorEvent]:
    qs = OperatorEvent.objects.filter(**filters)
    if actor is not None:
        qs = qs.filter(actor_id=actor.pk)
    return list(qs.order_by("id"))


def _tenant_audit(organisation: Organisation, action: str) -> list[AuditEvent]:
    with tenant_context(organisation):
        return list(AuditEvent.objects.filter(action=action, target_id=organisation.slug).order_by("id"))


def test_createsuperuser_makes_a_platform_operator_who_can_sign_in() -> None:
    email = _email()
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--email", email],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
    )
    user = User.objects.get(email=email)
    assert user.is_platform_staff
    assert user.is_active
    assert user.check_password(PASSWORD)
    client = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    assert client.post("/admin/login/", {"username": email, "password": PASSWORD}).status_code == 302
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"Organisations" in index.content
    assert b"Users" in index.content
    assert b"Domains" in index.content


def test_sign_in_failed_sign_in_and_sign_out_are_in_the_platform_log(operator: User) -> None:
    client = Client(HTTP_HOST=settings.PLATFORM_DOMAIN, HTTP_USER_AGENT="pytest-admin")
    anonymous = client.get("/admin/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")

    wrong = client.post("/admin/login/", {"username": operator.email, "password": "not-the-password"})
    assert wrong.status_code == 200
    assert b"correct email" in wrong.content.lower()
    failed = OperatorEvent.objects.filter(action="admin.login_failed").order_by("-id").first()
    assert failed is not None
    assert failed.actor_id is None
    assert operator.email not in str(failed.changes)
    assert failed.user_agent == "pytest-admin"
    assert failed.ip == "127.0.0.1"

    assert client.post("/admin/login/", {"username": operator.email, "password": PASSWORD}).status_code == 302
    assert [e.action for e in _events(operator)] == ["admin.login"]
    assert client.post("/admin/logout/").status_code == 200
    assert [e.action for e in _events(operator)] == ["admin.login", "admin.logout"]
    assert client.get("/admin/").status_code == 302  # signed out


def test_an_account_that_is_not_platform_staff_cannot_sign_in() -> None:
    user = UserFactory()
    client = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    response = client.post("/admin/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 200  # the form again, with an error
    assert client.get("/admin/").status_code == 302
    event = OperatorEvent.objects.filter(action="admin.login_failed", target_id=str(user.pk)).get()
    assert event.changes == {"reason": "not_platform_staff"}


def test_the_admin_is_not_served_on_tenant_hosts(tenant_a: Organisation, admin_client: Client) -> None:
    tenant = Client(HTTP_HOST=host_of(tenant_a))
    for path in ("/admin/", "/admin/login/"):
        response = tenant.get(path)
        assert response.status_code == 404
        assert "sessionid" not in response.cookies
    # Even with an operator's session cookie the tenant host has no admin and no session.
    tenant.cookies = admin_client.cookies
    assert tenant.get("/admin/").status_code == 404


def test_only_platform_records_are_registered() -> None:
    labels = {model._meta.label for model in operator_site._registry}
    assert labels == {"tenants.Organisation", "tenants.Domain", "accounts.User", "operators.OperatorEvent"}
    # Every one lives in the public schema: its app is shared and not a tenant app.
    for model in operator_site._registry:
        app = model._meta.app_config.name
        assert app in settings.SHARED_APPS, app
        assert app not in settings.TENANT_APPS, app


def test_lists_and_pages_of_every_registered_model(admin_client: Client, tenant_a: Organisation) -> None:
    for path in (
        "/admin/tenants/organisation/",
        f"/admin/tenants/organisation/{tenant_a.pk}/change/",
        "/admin/tenants/domain/",
        "/admin/accounts/user/",
        "/admin/operators/operatorevent/",
        "/admin/tenants/organisation/?q=" + tenant_a.slug,
    ):
        assert admin_client.get(path).status_code == 200, path
    assert tenant_a.slug.encode() in admin_client.get("/admin/tenants/organisation/?q=" + tenant_a.slug).content
    # No tenant data: a tenant app's pages do not exist here.
    assert admin_client.get("/admin/surveys/survey/").status_code == 404
    # Organisations are provisioned, never added or deleted here; the platform log cannot be edited.
    assert admin_client.get("/admin/tenants/organisation/add/").status_code == 403
    assert admin_client.get(f"/admin/tenants/organisation/{tenant_a.pk}/delete/").status_code == 403
    event = OperatorEvent.objects.order_by("-id").first()
    assert event is not None
    response = admin_client.post(f"/admin/operators/operatorevent/{event.pk}/change/", {"action": "x"})
    assert response.status_code == 403


def _change_form_data(response: Any) -> dict[str, Any]:
    """What a browser would post back from a change page: the form's current values, inline management forms."""
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        data[name] = "" if value is None else value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for index, sub in enumerate(formset.forms):
            for name in ("id", formset.fk.name):
                data[f"{formset.prefix}-{index}-{name}"] = sub.initial.get(name) or getattr(
                    sub.instance, f"{name}_id", ""
                )
            data[f"{formset.prefix}-{index}-id"] = sub.instance.pk
    return data


def test_changing_the_plan_goes_through_the_service_and_both_logs(
    admin_client: Client, operator: User, make_tenant: Any
) -> None:
    organisation = make_tenant()
    page = admin_client.get(f"/admin/tenants/organisation/{organisation.pk}/change/")
    data = _change_form_data(page)
    assert set(page.context["adminform"].form.fields) == {"name", "plan", "rate_limit_user", "rate_limit_anon"}
    data.update(plan="business", rate_limit_user="300/min")
    response = admin_client.post(f"/admin/tenants/organisation/{organisation.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    organisation.refresh_from_db()
    assert organisation.plan == "business"
    assert organisation.rate_limit_user == "300/min"
    [change] = _events(operator, action="admin.change")
    assert change.organisation == organisation.slug
    assert change.target_id == str(organisation.pk)
    [audit] = _tenant_audit(organisation, "tenant.updated")
    assert audit.actor_id == operator.pk
    assert audit.channel == "admin"
    assert audit.changes["after"]["plan"] == "business"

    # A bad rate is refused by the form: nothing changes, nothing is logged as a change.
    data.update(rate_limit_user="lots")
    refused = admin_client.post(f"/admin/tenants/organisation/{organisation.pk}/change/", data)
    assert refused.status_code == 200
    assert b"is not a rate" in refused.content
    organisation.refresh_from_db()
    assert organisation.rate_limit_user == "300/min"
    assert len(_events(operator, action="admin.change")) == 1


def test_suspend_and_resume_actions_call_the_lifecycle_services(
    admin_client: Client, operator: User, make_tenant: Any
) -> None:
    organisation = make_tenant()
    tenant_host = Client(HTTP_HOST=host_of(organisation))
    assert tenant_host.get("/api/v1/tenant/").status_code != 403

    response = admin_client.post(
        "/admin/tenants/organisation/", {"action": "suspend", "_selected_action": [organisation.pk]}, follow=True
    )
    assert response.status_code == 200
    assert f"Suspended: {organisation.slug}".encode() in response.content
    organisation.refresh_from_db()
    assert organisation.status == Organisation.Status.SUSPENDED
    assert tenant_host.get("/api/v1/tenant/").json()["error"]["code"] == "tenant_suspended"
    [suspended] = _tenant_audit(organisation, "tenant.suspended")
    assert suspended.actor_id == operator.pk
    assert suspended.channel == "admin"
    assert suspended.ip == "127.0.0.1"
    [event] = _events(operator, action="organisation.suspend")
    assert event.organisation == organisation.slug
    assert event.changes == {"status": "suspended"}

    # Suspending again is refused by the service: shown to the operator, logged, nothing changes.
    again = admin_client.post(
        "/admin/tenants/organisation/", {"action": "suspend", "_selected_action": [organisation.pk]}, follow=True
    )
    assert b"only an active one can be suspended" in again.content
    assert len(_events(operator, action="organisation.suspend_refused")) == 1

    admin_client.post("/admin/tenants/organisation/", {"action": "resume", "_selected_action": [organisation.pk]})
    organisation.refresh_from_db()
    assert organisation.status == Organisation.Status.ACTIVE
    assert tenant_host.get("/api/v1/tenant/").status_code != 403
    [resumed] = _tenant_audit(organisation, "tenant.resumed")
    assert resumed.actor_id == operator.pk
    assert resumed.channel == "admin"
    assert len(_events(operator, action="organisation.resume")) == 1


def test_user_changes_are_logged_and_operators_cannot_lock_themselves_out(admin_client: Client, operator: User) -> None:
    user = UserFactory()
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    data = {**_change_form_data(page), "is_active": ""}
    data.pop("is_active")  # an unticked checkbox is not posted
    data["full_name"] = "Blocked Person"
    assert admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data).status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert user.full_name == "Blocked Person"
    [event] = _events(operator, action="admin.change", target_id=str(user.pk))
    assert event.target_type == "accounts.user"
    assert event.changes["after"] == {"full_name": "Blocked Person", "is_active": "False"}
    own = admin_client.get(f"/admin/accounts/user/{operator.pk}/change/")
    assert "is_active" not in own.context["adminform"].form.fields
    assert admin_client.get(f"/admin/accounts/user/{user.pk}/delete/").status_code == 403


def test_the_platform_log_is_append_only_in_the_database(operator: User) -> None:
    client = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    client.post("/admin/login/", {"username": operator.email, "password": PASSWORD})
    event = _events(operator)[0]
    for statement in (
        "UPDATE operators_operatorevent SET action = 'x' WHERE id = %s",
        "DELETE FROM operators_operatorevent WHERE id = %s",
        "TRUNCATE operators_operatorevent",
    ):
        with (
            pytest.raises(ProgrammingError, match="permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk] if "%s" in statement else None)
    assert OperatorEvent.objects.filter(pk=event.pk, action="admin.login").exists()
    assert Domain.objects.exists()  # other public tables stay writable by the application (not revoked wholesale)
