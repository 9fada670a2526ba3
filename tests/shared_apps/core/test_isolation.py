"""Double isolation, as the application role: schema per tenant, and RLS inside each schema."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.db.utils import ProgrammingError
from django_tenants.utils import tenant_context
from psycopg import errors as pg_errors
from psycopg import sql

from shared_apps.core import rls
from shared_apps.tenants.services import schema_secure
from tenant_apps.surveys.models import Survey


def _count(schema: str, table: str = "surveys_survey") -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table)).as_string(cursor.cursor)
        )
        return cursor.fetchone()[0]


def test_application_role_is_not_privileged():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        user, is_super, bypass = cursor.fetchone()
    assert user == "survey_app"
    assert not is_super
    assert not bypass


def test_tenant_reads_own_rows_but_not_another_schema_qualified(tenant_a, tenant_b):
    with tenant_context(tenant_b):
        assert Survey.objects.count() >= 1  # B has data
    with tenant_context(tenant_a):
        assert _count(tenant_a.schema_name) >= 1
        assert _count(tenant_b.schema_name) == 0
        assert _count(tenant_b.schema_name, "members_membership") == 0


def test_tenant_cannot_insert_into_another_tenant_schema(tenant_a, tenant_b):
    with (
        tenant_context(tenant_a),
        pytest.raises(ProgrammingError) as excinfo,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f'INSERT INTO "{tenant_b.schema_name}".surveys_survey '
            "(title, description, status, definition, created_at, updated_at) "
            "VALUES ('planted', '', 'draft', '{}', now(), now())"
        )
    assert isinstance(excinfo.value.__cause__, pg_errors.InsufficientPrivilege)
    assert "row-level security" in str(excinfo.value)
    with tenant_context(tenant_b):
        assert not Survey.objects.filter(title="planted").exists()


def test_tenant_cannot_update_or_delete_in_another_tenant_schema(tenant_a, tenant_b):
    with tenant_context(tenant_b):
        before = list(Survey.objects.values_list("id", "title"))
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute(f'UPDATE "{tenant_b.schema_name}".surveys_survey SET title = %s', ["defaced"])
        assert cursor.rowcount == 0
        cursor.execute(f'DELETE FROM "{tenant_b.schema_name}".surveys_survey')
        assert cursor.rowcount == 0
    with tenant_context(tenant_b):
        assert list(Survey.objects.values_list("id", "title")) == before


def test_wrong_search_path_reads_nothing(tenant_a, tenant_b):
    """An ORM query that resolves to another tenant's table (a search_path mistake) sees no rows."""
    with tenant_context(tenant_a):
        assert Survey.objects.count() >= 1
        with connection.cursor() as cursor:
            cursor.execute(f'SET search_path = "{tenant_b.schema_name}", public')
        assert Survey.objects.count() == 0
        connection.set_tenant(tenant_a)  # next cursor restores both settings
        assert Survey.objects.count() >= 1


def test_no_tenant_set_sees_no_tenant_rows(tenant_a):
    connection.set_schema_to_public()
    assert _count(tenant_a.schema_name) == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.tenant', true)")
        assert cursor.fetchone()[0] == "public"


def test_application_role_cannot_switch_off_rls_or_create_tables(tenant_a):
    with tenant_context(tenant_a):
        for statement in (
            f'ALTER TABLE "{tenant_a.schema_name}".surveys_survey DISABLE ROW LEVEL SECURITY',
            f'DROP POLICY tenant_isolation ON "{tenant_a.schema_name}".surveys_survey',
            f'CREATE TABLE "{tenant_a.schema_name}".sneaky (id int)',
            "SET ROLE survey_owner",
        ):
            with pytest.raises(ProgrammingError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)


def test_check_isolation_passes_on_three_tenants(tenant_a, tenant_b, make_tenant, capsys):
    third = make_tenant()
    call_command("check_isolation")
    out = capsys.readouterr().out
    for schema in (tenant_a.schema_name, tenant_b.schema_name, third.schema_name, "_template"):
        assert f"ok   {schema}:" in out
    assert "Isolation check passed" in out


def _owner_execute(statement: str) -> None:
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute(statement)


def test_check_isolation_fails_naming_an_unsecured_table(tenant_a, capsys):
    table = f'"{tenant_a.schema_name}".unsecured_notes'
    _owner_execute(f"CREATE TABLE {table} (id int)")
    try:
        with pytest.raises(CommandError, match="Isolation check failed"):
            call_command("check_isolation", "--quiet")
        err = capsys.readouterr().err
        assert f"{tenant_a.schema_name}.unsecured_notes: row-level security is not enabled" in err
        assert f"{tenant_a.schema_name}.unsecured_notes: no tenant_isolation policy" in err
        schema_secure(schema_name=tenant_a.schema_name)
        call_command("check_isolation", "--quiet")  # fixed by re-securing
    finally:
        _owner_execute(f"DROP TABLE IF EXISTS {table}")


def test_check_isolation_detects_unforced_rls_and_foreign_policy(tenant_a, tenant_b, capsys):
    table = f'"{tenant_a.schema_name}".surveys_survey'
    _owner_execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    _owner_execute(f"DROP POLICY tenant_isolation ON {table}")
    _owner_execute(
        f"CREATE POLICY tenant_isolation ON {table} USING (current_setting('app.tenant', true) = "
        f"'{tenant_b.schema_name}') WITH CHECK (current_setting('app.tenant', true) = '{tenant_b.schema_name}')"
    )
    try:
        with pytest.raises(CommandError):
            call_command("check_isolation", "--quiet")
        err = capsys.readouterr().err
        assert f"{tenant_a.schema_name}.surveys_survey: row-level security is not forced" in err
        assert f"{tenant_a.schema_name}.surveys_survey: tenant_isolation policy does not restrict rows" in err
    finally:
        schema_secure(schema_name=tenant_a.schema_name)
    call_command("check_isolation", "--quiet")


def test_partitioned_tables_and_partitions_are_secured_and_survive_cloning(make_tenant, capsys):
    """A partitioned table in the template: every clone gets RLS ENABLED + FORCED on the parent and
    on each partition (clone_schema itself leaves partitioned parents without it)."""
    parent = '"_template".bench_events'
    _owner_execute(f"CREATE TABLE {parent} (id bigint, at date NOT NULL) PARTITION BY RANGE (at)")
    _owner_execute(
        f'CREATE TABLE "_template".bench_events_2026_11 PARTITION OF {parent} '
        "FOR VALUES FROM ('2026-11-01') TO ('2026-12-01')"
    )
    schema_secure(schema_name="_template")
    try:
        tenant = make_tenant()
        with connection.cursor() as cursor:
            reports = rls.inspect_schemas(cursor.cursor, schema_names=[tenant.schema_name], app_role="survey_app")
        assert reports[0].problems == []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname LIKE 'bench_events%%' ORDER BY c.relname",
                [tenant.schema_name],
            )
            rows = cursor.fetchall()
        assert rows == [("bench_events", "p", True, True), ("bench_events_2026_11", "r", True, True)]
        # The partition's own policy applies when it is addressed directly.
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(f'INSERT INTO "{tenant.schema_name}".bench_events VALUES (1, %s)', ["2026-11-24"])
        connection.set_schema_to_public()
        assert _count(tenant.schema_name, "bench_events_2026_11") == 0
        with tenant_context(tenant):
            assert _count(tenant.schema_name, "bench_events_2026_11") == 1
    finally:
        _owner_execute(f"DROP TABLE IF EXISTS {parent}")
