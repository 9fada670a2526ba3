"""Row-level security for tenant schemas: apply it, and verify it.

Isolation is double. Each tenant has a schema of its own (django-tenants), and inside it
every table (partitioned parents and partitions included) has RLS ENABLED and FORCED with
one policy, ``tenant_isolation``, that admits a row only when the per-connection setting
``app.tenant`` names that schema. The setting is set together with the search_path on every
tenant switch (``shared_apps.core.db_backend``), so a connection working for tenant A that
reaches a table of tenant B, by a schema-qualified name or a wrong search_path, reads no rows
and cannot write any. With no tenant set (``app.tenant = 'public'``), tenant tables are empty.

The policy is only as strong as the role it applies to: the application role must not be a
superuser, must not have BYPASSRLS, and must not own the tables. The owner role (migrations,
provisioning) bypasses RLS by design.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from shared_apps.core import registry

TENANT_SETTING = "app.tenant"
POLICY_NAME = "tenant_isolation"


def is_append_only(table_name: str) -> bool:
    """Tables whose rows the application may add and read but never change (registered by tenant apps:
    ``registry.register_append_only_table``), with their partitions (``<table>_p...``, ``<table>_default``)."""
    return any(
        table_name == t or table_name.startswith(f"{t}_p") or table_name == f"{t}_default"
        for t in registry.append_only_tables()
    )


SYSTEM_SCHEMAS = ("public", "information_schema")


def policy_expression(schema_name: str) -> sql.Composable:
    return sql.SQL("current_setting({setting}, true) = {schema}").format(
        setting=sql.Literal(TENANT_SETTING), schema=sql.Literal(schema_name)
    )


def expected_policy_qual(schema_name: str) -> str:
    """The policy expression as PostgreSQL prints it back in ``pg_policies.qual``."""
    escaped = schema_name.replace("'", "''")
    return f"(current_setting('{TENANT_SETTING}'::text, true) = '{escaped}'::text)"


def _tables(cursor: Any, schema_name: str) -> list[tuple[str, str]]:
    cursor.execute(
        """
        SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname
        """,
        [schema_name],
    )
    return [(row[0], row[1]) for row in cursor.fetchall()]


def secure_schema(cursor: Any, *, schema_name: str, app_role: str) -> int:
    """Grant the application role what it needs in ``schema_name`` and put every table
    under RLS. Idempotent; run as the owner role after every migration, clone or DDL.
    Returns the number of tables secured."""
    schema = sql.Identifier(schema_name)
    role = sql.Identifier(app_role)
    cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
    cursor.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(schema, role))
    cursor.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(schema, role)
    )
    cursor.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema, role))
    tables = _tables(cursor, schema_name)
    for table_name, _kind in tables:
        table = sql.Identifier(schema_name, table_name)
        cursor.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table))
        cursor.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(table))
        cursor.execute(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(POLICY_NAME), table))
        cursor.execute(
            sql.SQL("CREATE POLICY {} ON {} USING ({expr}) WITH CHECK ({expr})").format(
                sql.Identifier(POLICY_NAME), table, expr=policy_expression(schema_name)
            )
        )
        if is_append_only(table_name):
            cursor.execute(sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(table, role))
    return len(tables)


def grant_public_schema(cursor: Any, *, app_role: str) -> None:
    """Shared tables: DML for the application role, nothing else."""
    role = sql.Identifier(app_role)
    cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
    cursor.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(role))
    cursor.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(role))
    cursor.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role))
    # Append-only shared tables (e.g. the operators' platform log): insert and read, never change.
    for table_name in public_append_only_tables(cursor):
        table = sql.Identifier("public", table_name)
        cursor.execute(sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(table, role))


def public_append_only_tables(cursor: Any) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [row[0] for row in cursor.fetchall() if is_append_only(row[0])]


@dataclass
class SchemaReport:
    schema_name: str
    tables: int = 0
    problems: list[str] = field(default_factory=list)


def role_problems(cursor: Any, *, app_role: str) -> list[str]:
    """What would let the application role get around RLS."""
    cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [app_role])
    row = cursor.fetchone()
    if row is None:
        return [f"application role {app_role!r} does not exist"]
    problems = []
    if row[0]:
        problems.append(f"application role {app_role!r} is a superuser")
    if row[1]:
        problems.append(f"application role {app_role!r} has BYPASSRLS")
    cursor.execute(
        """
        SELECT b.rolname FROM pg_auth_members m
        JOIN pg_roles a ON a.oid = m.member JOIN pg_roles b ON b.oid = m.roleid
        WHERE a.rolname = %s AND (b.rolsuper OR b.rolbypassrls)
        """,
        [app_role],
    )
    problems += [f"application role {app_role!r} is a member of privileged role {r[0]!r}" for r in cursor.fetchall()]
    return problems


def inspect_schemas(cursor: Any, *, schema_names: Iterable[str], app_role: str) -> list[SchemaReport]:
    """For each tenant schema: every table must have RLS enabled and forced, carry the
    tenant policy naming this schema, and not be owned by the application role."""
    reports = []
    for schema_name in schema_names:
        report = SchemaReport(schema_name)
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner),
                   (SELECT array_agg(p.qual || '|' || coalesce(p.with_check, '') || '|' || p.cmd)
                      FROM pg_policies p WHERE p.schemaname = n.nspname AND p.tablename = c.relname
                       AND p.policyname = %s),
                   has_table_privilege(%s, c.oid, 'UPDATE') OR has_table_privilege(%s, c.oid, 'DELETE')
                       OR has_table_privilege(%s, c.oid, 'TRUNCATE')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname
            """,
            [POLICY_NAME, app_role, app_role, app_role, schema_name],
        )
        expected = expected_policy_qual(schema_name)
        for relname, enabled, forced, owner, policies, can_change in cursor.fetchall():
            report.tables += 1
            where = f"{schema_name}.{relname}"
            if not enabled:
                report.problems.append(f"{where}: row-level security is not enabled")
            if not forced:
                report.problems.append(f"{where}: row-level security is not forced")
            if owner == app_role:
                report.problems.append(f"{where}: owned by the application role")
            if not policies:
                report.problems.append(f"{where}: no {POLICY_NAME} policy")
            elif policies != [f"{expected}|{expected}|ALL"]:
                report.problems.append(f"{where}: {POLICY_NAME} policy does not restrict rows to {schema_name!r}")
            if can_change and is_append_only(relname):
                report.problems.append(f"{where}: append-only, but the application role may UPDATE/DELETE/TRUNCATE")
        reports.append(report)
    return reports


def tenant_schema_names(cursor: Any) -> list[str]:
    """Every schema that is not PostgreSQL's or the shared one: tenant schemas, the template,
    and any orphan that should not exist."""
    cursor.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' AND nspname <> ALL(%s) ORDER BY nspname",
        [list(SYSTEM_SCHEMAS)],
    )
    return [row[0] for row in cursor.fetchall()]
