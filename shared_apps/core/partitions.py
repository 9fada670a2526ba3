"""Monthly range partitions inside tenant schemas (plain PostgreSQL declarative partitioning).

A partitioned table ``<table>`` has partitions ``<table>_pYYYY_MM`` and ``<table>_default``.
Partition DDL runs as the owner role; the caller re-applies RLS and grants (``secure_schema``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from psycopg import sql


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: dt.date) -> str:
    return f"{table}_p{month.year:04d}_{month.month:02d}"


DETACHED_MARK = "detached_at="


def detach_old_partitions(
    cursor: Any, *, schema_name: str, table: str, keep_from: dt.date, now: dt.datetime | None = None
) -> list[str]:
    """Detach the monthly partitions that end before ``keep_from``'s month (data kept in the detached
    tables, stamped with the time of detaching, until ``drop_detached_partitions`` drops them after the
    grace period; nothing reads them). Returns their names."""
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat()
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE n.nspname = %s AND p.relname = %s ORDER BY c.relname",
        [schema_name, table],
    )
    limit = partition_name(table, month_start(keep_from))
    old = [name for (name,) in cursor.fetchall() if name.startswith(f"{table}_p") and name < limit]
    for name in old:
        cursor.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                sql.Identifier(schema_name, table), sql.Identifier(schema_name, name)
            )
        )
        cursor.execute(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(
                sql.Identifier(schema_name, name), sql.Literal(f"{DETACHED_MARK}{stamp}")
            )
        )
    return old


def drop_detached_partitions(
    cursor: Any, *, schema_name: str, table: str, now: dt.datetime, grace: dt.timedelta
) -> list[str]:
    """Drop ``<table>_pYYYY_MM`` tables that are no longer partitions and were detached more than ``grace``
    ago. A detached table without a stamp (detached before stamps existed, or by hand) is stamped now, so it
    gets the whole grace period. Returns the names dropped."""
    cursor.execute(
        "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r' AND NOT c.relispartition AND c.relname LIKE %s "
        "ORDER BY c.relname",
        [schema_name, f"{table}\\_p%"],
    )
    dropped = []
    for name, comment in cursor.fetchall():
        if not re.fullmatch(rf"{re.escape(table)}_p\d{{4}}_\d{{2}}", name):
            continue
        detached_at = None
        if comment and comment.startswith(DETACHED_MARK):
            try:
                detached_at = dt.datetime.fromisoformat(comment[len(DETACHED_MARK) :])
            except ValueError:
                detached_at = None
        if detached_at is None:
            cursor.execute(
                sql.SQL("COMMENT ON TABLE {} IS {}").format(
                    sql.Identifier(schema_name, name),
                    sql.Literal(f"{DETACHED_MARK}{now.astimezone(dt.UTC).isoformat()}"),
                )
            )
            continue
        if now - detached_at >= grace:
            cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema_name, name)))
            dropped.append(name)
    return dropped


def default_partition_rows(cursor: Any, *, schema_name: str, table: str) -> int:
    cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema_name, f"{table}_default")))
    return int(cursor.fetchone()[0])


def ensure_monthly_partitions(
    cursor: Any, *, schema_name: str, table: str, today: dt.date, months_back: int = 1, months_ahead: int = 3
) -> list[str]:
    """Create the missing monthly partitions from ``months_back`` before ``today``'s month to
    ``months_ahead`` after it, plus the default partition. Returns the names created."""
    created = []
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE n.nspname = %s AND p.relname = %s",
        [schema_name, table],
    )
    existing = {row[0] for row in cursor.fetchall()}
    parent = sql.Identifier(schema_name, table)
    if f"{table}_default" not in existing:
        cursor.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
                sql.Identifier(schema_name, f"{table}_default"), parent
            )
        )
        created.append(f"{table}_default")
    first = add_months(month_start(today), -months_back)
    for offset in range(months_back + months_ahead + 1):
        start = add_months(first, offset)
        name = partition_name(table, start)
        if name in existing:
            continue
        cursor.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(schema_name, name),
                parent,
                sql.Literal(start.isoformat()),
                sql.Literal(add_months(start, 1).isoformat()),
            )
        )
        created.append(name)
    return created
