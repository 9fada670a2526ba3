"""Monthly range partitions inside tenant schemas (plain PostgreSQL declarative partitioning).

A partitioned table ``<table>`` has partitions ``<table>_pYYYY_MM`` and ``<table>_default``.
Partition DDL runs as the owner role; the caller re-applies RLS and grants (``secure_schema``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import sql


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: dt.date) -> str:
    return f"{table}_p{month.year:04d}_{month.month:02d}"


def detach_old_partitions(cursor: Any, *, schema_name: str, table: str, keep_from: dt.date) -> list[str]:
    """Detach the monthly partitions that end before ``keep_from``'s month (data kept in the detached
    tables for archiving; nothing reads them). Returns their names."""
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
    return old


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
