"""Spare schemas: a pool of tenant schemas cloned from the template, secured and verified ahead of time,
so that provisioning only renames one (``ALTER SCHEMA spare_x RENAME TO t_<slug>``) and rewrites its
RLS policies, inside the provisioning's owner transaction, instead of cloning the template (1-4 s).

- A spare is a schema named ``spare_<hex>``; it has no organisation, so it is never a tenant (no domain,
  no fan-out, no ``migrate_schemas``). ``check_isolation`` inspects it like any schema: its policies name it.
- Claiming takes a transaction-level advisory lock per spare (``pg_try_advisory_xact_lock``), so two
  provisionings never claim the same spare; a loser moves on to the next one, or clones.
- A spare is claimed only if it has exactly the template's migrations; a migration of the template makes
  every spare stale, and stale spares are dropped (after the template's migration, and by every refill).
- The pool is refilled by a beat job (``spares_refill``, one platform task, not per tenant) and by
  ``manage.py spare_schemas --fill N``; ``settings.TENANT_SPARE_SCHEMAS`` is the target size.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from psycopg import sql

from shared_apps.core import rls
from shared_apps.tenants.services.base import owner_cursor

logger = logging.getLogger(__name__)

SPARE_PREFIX = "spare_"
_LOCK_PREFIX = "tenant-spare:"
_FILL_LOCK = "tenant-spares-fill"


def is_spare(schema_name: str) -> bool:
    return schema_name.startswith(SPARE_PREFIX)


def _lock_key(name: str) -> sql.Composable:
    return sql.SQL("hashtextextended({}, 0)").format(sql.Literal(_LOCK_PREFIX + name))


def spare_names(cursor: Any) -> list[str]:
    cursor.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname",
        [SPARE_PREFIX.replace("_", "\\_") + "%"],
    )
    return [row[0] for row in cursor.fetchall()]


def _is_current(cursor: Any, schema_name: str) -> bool:
    """The spare has exactly the template's migrations (migrations only add rows, so the counts say it)."""
    cursor.execute(
        sql.SQL(
            "SELECT (SELECT count(*) FROM {}.django_migrations) = (SELECT count(*) FROM {}.django_migrations)"
        ).format(sql.Identifier(schema_name), sql.Identifier(settings.TENANT_TEMPLATE_SCHEMA))
    )
    return bool(cursor.fetchone()[0])


def policies_rewrite(cursor: Any, *, schema_name: str) -> int:
    """Point every table's ``tenant_isolation`` policy at ``schema_name`` (after a rename), in one round trip."""
    tables = rls._tables(cursor, schema_name)
    if not tables:
        return 0
    expr = rls.policy_expression(schema_name)
    statements = [
        sql.SQL("ALTER POLICY {} ON {} USING ({expr}) WITH CHECK ({expr})").format(
            sql.Identifier(rls.POLICY_NAME), sql.Identifier(schema_name, table_name), expr=expr
        )
        for table_name, _kind in tables
    ]
    cursor.execute(sql.SQL("; ").join(statements))
    return len(tables)


def spare_claim(cursor: Any, *, schema_name: str) -> str | None:
    """In the caller's owner transaction: rename a current spare to ``schema_name`` and rewrite its
    policies. Returns the spare's old name, or None when no spare could be claimed (then clone)."""
    for name in spare_names(cursor):
        cursor.execute(sql.SQL("SELECT pg_try_advisory_xact_lock({})").format(_lock_key(name)))
        if not cursor.fetchone()[0]:
            continue  # another provisioning is claiming it
        # Re-check under the lock: a claim that committed before we took it has renamed it away.
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        if cursor.fetchone() is None or not _is_current(cursor, name):
            continue
        cursor.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(schema_name))
        )
        policies_rewrite(cursor, schema_name=schema_name)
        return name
    return None


def _spare_name() -> str:
    return f"{SPARE_PREFIX}{uuid.uuid4().hex[:16]}"


def spares_drop_stale() -> list[str]:
    """Drop every spare that does not have the template's migrations (skipping one being claimed)."""
    dropped = []
    with owner_cursor() as raw:
        for name in spare_names(raw):
            raw.execute(sql.SQL("SELECT pg_try_advisory_xact_lock({})").format(_lock_key(name)))
            if raw.fetchone()[0] and not _is_current(raw, name):
                raw.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
                dropped.append(name)
    if dropped:
        logger.info("stale spare schemas dropped", extra={"count": len(dropped)})
    return dropped


def spares_drop_all() -> int:
    with owner_cursor() as raw:
        names = spare_names(raw)
        for name in names:
            raw.execute(sql.SQL("SELECT pg_advisory_xact_lock({})").format(_lock_key(name)))
            raw.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    return len(names)


def spares_count() -> int:
    with owner_cursor() as raw:
        return len(spare_names(raw))


def spares_fill(*, target: int | None = None) -> int:
    """Drop stale spares, then clone until the pool holds ``target`` (default: the setting).
    Concurrent fills are serialised by an advisory lock around each count-then-clone. Returns how many were made."""
    target = settings.TENANT_SPARE_SCHEMAS if target is None else target
    spares_drop_stale()
    from shared_apps.tenants.services.provisioning import schema_clone_into

    made = 0
    while True:
        # One transaction per spare, holding the fill lock while counting and cloning: concurrent
        # fills never overshoot, and each spare appears to claimers only once secured and verified.
        with owner_cursor() as raw:
            raw.execute(sql.SQL("SELECT pg_advisory_xact_lock({})").format(_lock_key(_FILL_LOCK)))
            if len(spare_names(raw)) >= target:
                break
            schema_clone_into(raw, schema_name=_spare_name())
        made += 1
    if made:
        logger.info("spare schemas made", extra={"count": made, "target": target})
    return made
