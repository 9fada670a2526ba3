"""Monthly partitions of the tables tenant apps registered as partitioned (``shared_apps.core.registry``)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from shared_apps.core import registry, rls
from shared_apps.core.partitions import (
    add_months,
    default_partition_rows,
    detach_old_partitions,
    drop_detached_partitions,
    ensure_monthly_partitions,
)
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services.base import Kind, Status, owner_cursor
from shared_apps.tenants.services.spares import spare_names

logger = logging.getLogger(__name__)


def partitions_maintain(
    *, today: dt.date | None = None, months_ahead: int = 3, now: dt.datetime | None = None
) -> dict[str, list[str]]:
    """Daily, per tenant schema (and the template, and the spare schemas, so a spare claimed months after it was
    cloned has this month's partitions): create the coming months' partitions, detach
    response partitions older than the organisation's retention, drop detached partitions once
    ``PARTITION_DROP_GRACE_DAYS`` have passed, re-secure the schema (RLS on the new partitions), and
    log an alert when rows landed in a default partition. Returns what changed."""
    now = now or timezone.now()
    today = today or now.date()
    grace = dt.timedelta(days=settings.PARTITION_DROP_GRACE_DAYS)
    organisations = (
        Organisation.objects.exclude(kind=Kind.PUBLIC)
        .exclude(status=Status.FAILED)
        .only("schema_name", "retention_months")
    )
    changed: dict[str, list[str]] = {}
    tables = [t.table for t in registry.partitioned_tables()]
    retained = [t.table for t in registry.partitioned_tables() if t.retained]
    with owner_cursor() as raw:
        spares = spare_names(raw)
    schemas = [(o.schema_name, o.retention_months) for o in organisations] + [(name, 0) for name in spares]
    for schema_name, retention_months in schemas:
        with owner_cursor() as raw:
            raw.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
            if raw.fetchone() is None:
                continue
            names = []
            for table in tables:
                names += ensure_monthly_partitions(
                    raw, schema_name=schema_name, table=table, today=today, months_back=0, months_ahead=months_ahead
                )
                stray = default_partition_rows(raw, schema_name=schema_name, table=table)
                if stray:
                    logger.error(
                        "rows in a default partition: create the missing partition and move them",
                        extra={"tenant": schema_name, "table": table, "rows": stray, "alert": True},
                    )
            if retention_months:
                keep_from = add_months(today.replace(day=1), -retention_months)
                for table in retained:
                    names += [
                        f"detached:{n}"
                        for n in detach_old_partitions(
                            raw, schema_name=schema_name, table=table, keep_from=keep_from, now=now
                        )
                    ]
            for table in retained:
                names += [
                    f"dropped:{n}"
                    for n in drop_detached_partitions(raw, schema_name=schema_name, table=table, now=now, grace=grace)
                ]
            if names:
                rls.secure_schema(raw, schema_name=schema_name, app_role=settings.DATABASE_APP_ROLE)
                changed[schema_name] = names
    return changed
