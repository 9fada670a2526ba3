"""The audit log: append-only in the database, partitioned by month, complete, filterable."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.db.utils import ProgrammingError
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.audit.services import audit_record, redact
from tests.conftest import host_of, login


def _actions(tenant, **filters):
    with tenant_context(tenant):
        return list(AuditEvent.objects.filter(**filters).values_list("action", flat=True))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {schema}.audit_event SET action = 'forged'",
        "DELETE FROM {schema}.audit_event",
        "TRUNCATE {schema}.audit_event",
        "UPDATE {schema}.audit_event_default SET action = 'forged'",
        "DELETE FROM {schema}.audit_event_p{month}",
    ],
)
def test_application_role_cannot_change_or_remove_audit_entries(tenant_a, statement):
    month = timezone.now().strftime("%Y_%m")
    with tenant_context(tenant_a):
        audit_record(action="test.entry")
        with (
            pytest.raises(ProgrammingError, match="permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement.format(schema=f'"{tenant_a.schema_name}"', month=month))
        assert AuditEvent.objects.filter(action="test.entry").exists()


def test_audit_table_is_partitioned_by_month_with_rls(tenant_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = %s AND p.relname = 'audit_event'",
            [tenant_a.schema_name],
        )
        partitions = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}
    this_month = f"audit_event_p{timezone.now():%Y_%m}"
    assert this_month in partitions
    assert "audit_event_default" in partitions
    assert all(flags == (True, True) for flags in partitions.values())


def test_date_bounded_query_scans_only_matching_partitions(tenant_a):
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("EXPLAIN SELECT * FROM audit_event WHERE occurred_at >= %s AND occurred_at < %s", [start, end])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"audit_event_p{start:%Y_%m}" in plan
    other_months = [f"audit_event_p{(start - dt.timedelta(days=1)):%Y_%m}", "audit_event_default"]
    for name in other_months:
        assert name not in plan, plan


def test_entries_carry_who_what_when_where_how(tenant_a, make_member, api_client_for):
    admin = make_member(tenant_a, "admin")
    client = api_client_for(admin, tenant_a)
    response = client.post(
        "/api/v1/roles/",
        {"name": "Reviewer", "permissions": ["survey.view"]},
        content_type="application/json",
        HTTP_USER_AGENT="pytest-agent/1.0",
        HTTP_X_REQUEST_ID="req-audit-0001",
        REMOTE_ADDR="198.51.100.23",
    )
    assert response.status_code == 201
    with tenant_context(tenant_a):
        event = AuditEvent.objects.get(action="role.created", target_id=str(response.json()["id"]))
    assert event.actor_id == admin.pk
    assert event.actor_kind == "user"
    assert event.channel == "api"
    assert event.ip == "198.51.100.23"
    assert event.user_agent == "pytest-agent/1.0"
    assert event.request_id == "req-audit-0001"
    assert event.changes == {"after": {"name": "Reviewer", "permissions": ["survey.view"]}}
    assert abs((timezone.now() - event.occurred_at).total_seconds()) < 60


def test_membership_and_role_changes_are_recorded_with_before_and_after(tenant_a, make_member, api_client_for):
    admin = make_member(tenant_a, "admin")
    target = make_member(tenant_a, "analyst")
    client = api_client_for(admin, tenant_a)
    with tenant_context(tenant_a):
        from tenant_apps.members.models import Membership

        membership_id = Membership.objects.get(user=target).pk
    client.patch(f"/api/v1/members/{membership_id}/", {"role": "survey_creator"}, content_type="application/json")
    with tenant_context(tenant_a):
        event = AuditEvent.objects.filter(action="member.updated", target_id=str(membership_id)).latest("occurred_at")
    assert event.changes == {"before": {"role": "analyst"}, "after": {"role": "survey_creator"}}


def test_suspend_and_resume_are_recorded_in_the_tenants_log(make_tenant):
    tenant = make_tenant()
    call_command("suspend_tenant", tenant.slug, "--reason", "chargeback")
    call_command("resume_tenant", tenant.slug)
    with tenant_context(tenant):
        events = {e.action: e for e in AuditEvent.objects.filter(action__startswith="tenant.")}
    assert events["tenant.suspended"].channel == "cli"
    assert events["tenant.suspended"].actor_kind == "system"
    assert events["tenant.suspended"].changes == {"reason": "chargeback"}
    assert events["tenant.resumed"].channel == "cli"


def test_an_api_change_without_its_own_entry_gets_a_generic_one(tenant_a):
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory

    from tenant_apps.apibase import TenantApi
    from tenant_apps.members.access import PUBLIC, NoAuthentication

    class Quiet(TenantApi):
        authentication_classes = [NoAuthentication]
        required_permission = PUBLIC
        audit_target_type = "thing"

        def delete(self, request, pk):  # type: ignore[no-untyped-def]
            return Response(status=204)

    with tenant_context(tenant_a):
        Quiet.as_view()(APIRequestFactory().delete("/things/7/"), pk=7)
        event = AuditEvent.objects.filter(action="api.Quiet.delete").latest("occurred_at")
    assert (event.target_type, event.target_id) == ("thing", "7")


def test_secrets_and_personal_data_are_redacted():
    assert redact({"email": "a@b.c", "nested": {"password": "x", "role": "admin"}, "list": [{"token": "t"}]}) == {
        "email": "[redacted]",
        "nested": {"password": "[redacted]", "role": "admin"},
        "list": [{"token": "[redacted]"}],
    }


def test_audit_api_filters_paginates_and_resolves_actors(tenant_a, make_member, api_client_for):
    auditor_role_client = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    user = make_member(tenant_a, "analyst")
    for _ in range(3):
        login(tenant_a, user.email)
    body = auditor_role_client.get(f"/api/v1/audit/?action=auth.login&actor_id={user.pk}").json()
    assert len(body["results"]) == 3
    assert {row["actor"]["email"] for row in body["results"]} == {user.email}
    assert all(row["action"] == "auth.login" for row in body["results"])

    page = auditor_role_client.get("/api/v1/audit/?action=auth.*&page_size=2").json()
    assert len(page["results"]) == 2
    assert page["next"]
    following = auditor_role_client.get(page["next"]).json()
    assert {r["id"] for r in following["results"]}.isdisjoint({r["id"] for r in page["results"]})

    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    assert auditor_role_client.get("/api/v1/audit/", {"since": future}).json()["results"] == []


@pytest.mark.parametrize(
    "query", ["since=yesterday", "actor_id=abc", "channel=fax", "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z"]
)
def test_audit_api_rejects_bad_filters(tenant_a, make_member, api_client_for, query):
    response = api_client_for(make_member(tenant_a, "admin"), tenant_a).get(f"/api/v1/audit/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_audit_api_query_count_does_not_grow(make_tenant, make_member, api_client_for):
    tenant = make_tenant()  # a small tenant: every entry fits on one page
    client = api_client_for(make_member(tenant, "admin"), tenant)
    client.get("/api/v1/audit/?page_size=100")  # warm the permission cache
    with CaptureQueriesContext(connection) as few:
        first = client.get("/api/v1/audit/?page_size=100")
    actors = [make_member(tenant, "analyst") for _ in range(3)]  # each adds a membership entry too
    with tenant_context(tenant):
        for i in range(12):
            audit_record(action="test.grow", target_type="survey", target_id=i, actor_id=actors[i % 3].pk)
    with CaptureQueriesContext(connection) as more:
        second = client.get("/api/v1/audit/?page_size=100")
    assert len(second.json()["results"]) >= len(first.json()["results"]) + 12
    # SET, tenant, SET, the page, the actors' e-mails: the same, whatever the page holds and whoever acted.
    assert len(more) == len(few) <= 5, [q["sql"][:150] for q in more.captured_queries]


def test_audit_log_is_per_tenant(tenant_a, tenant_b, make_member):
    user = make_member(tenant_b, "admin")
    login(tenant_b, user.email)
    client = Client(
        HTTP_HOST=host_of(tenant_a),
        HTTP_AUTHORIZATION=f"Bearer {login(tenant_a, make_member(tenant_a, 'admin').email)['access']}",
    )
    rows = client.get(f"/api/v1/audit/?actor_id={user.pk}").json()["results"]
    assert rows == []


def test_check_isolation_flags_an_audit_table_that_can_be_changed(tenant_a, capsys):
    table = f'"{tenant_a.schema_name}".audit_event'
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute(f"GRANT UPDATE ON {table} TO survey_app")
    try:
        with pytest.raises(CommandError):
            call_command("check_isolation", "--quiet")
        assert "audit_event: append-only, but the application role may UPDATE" in capsys.readouterr().err
    finally:
        with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
            cursor.execute(f"REVOKE UPDATE ON {table} FROM survey_app")
    call_command("check_isolation", "--quiet")


def test_partition_maintenance_creates_months_ahead_with_rls(make_tenant):
    from shared_apps.tenants.services import partitions_maintain
    from shared_apps.tenants.tasks import partitions_maintain_task

    tenant = make_tenant()
    far = timezone.now().date().replace(day=1) + dt.timedelta(days=200)
    created = partitions_maintain(today=far, months_ahead=1)
    expected = f"audit_event_p{far:%Y_%m}"
    assert expected in created[tenant.schema_name]
    assert expected in created["_template"]  # future clones get it too
    call_command("check_isolation", "--quiet")
    assert partitions_maintain(today=far, months_ahead=1) == {}  # idempotent
    assert isinstance(partitions_maintain_task.apply().get(), dict)
    with tenant_context(tenant):
        audit_record(action="future.entry")
        AuditEvent.objects.create(
            occurred_at=timezone.make_aware(dt.datetime.combine(far, dt.time(12))),
            actor_kind="system",
            action="future.row",
            channel="task",
        )
        assert AuditEvent.objects.filter(action="future.row").count() == 1
