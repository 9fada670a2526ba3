"""The audit log is tamper-evident: each entry is chained by hash to the previous one of its monthly
partition, and ``manage.py verify_audit SLUG`` names the first link that does not hold."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.db.utils import ProgrammingError
from django_tenants.utils import tenant_context
from psycopg import sql

from shared_apps.tenants.services import owner_cursor
from tenant_apps.audit.chain import GENESIS, audit_verify
from tenant_apps.audit.models import AuditEvent
from tenant_apps.audit.services import audit_record


def _verify(tenant):
    with tenant_context(tenant), connection.cursor() as cursor:
        return audit_verify(cursor=cursor)


def _record(tenant, count, prefix="chain"):
    with tenant_context(tenant):
        return [audit_record(action=f"{prefix}.{i}", changes={"n": i, "note": "é"}).pk for i in range(count)]


def test_entries_are_chained_and_verify_passes(make_tenant, capsys):
    tenant = make_tenant()
    ids = _record(tenant, 5)
    with tenant_context(tenant):
        rows = list(AuditEvent.objects.filter(pk__in=ids).order_by("chain_seq"))
    assert [r.prev_hash for r in rows[1:]] == [r.entry_hash for r in rows[:-1]]
    assert all(len(r.entry_hash or "") == 64 for r in rows)
    with tenant_context(tenant):  # the first entry of a partition chains to the genesis hash
        assert AuditEvent.objects.filter(chain_seq=1).values_list("prev_hash", flat=True)[0] == GENESIS
    call_command("verify_audit", tenant.slug)
    assert "chain intact" in capsys.readouterr().out


def test_owner_alteration_is_found_and_named(make_tenant):
    tenant = make_tenant()
    ids = _record(tenant, 6)
    victim = ids[3]
    # The application role cannot alter the log at all ...
    with (
        tenant_context(tenant),
        pytest.raises(ProgrammingError, match="permission denied"),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_event SET action = 'forged' WHERE id = %s", [victim])
    # ... the owner role can, and the chain shows it.
    with owner_cursor() as raw:
        raw.execute(
            sql.SQL("UPDATE {} SET changes = '{{\"n\": 99}}'::jsonb WHERE id = %s").format(
                sql.Identifier(tenant.schema_name, "audit_event")
            ),
            [victim],
        )
    report = _verify(tenant)
    assert report.broken is not None
    assert report.broken.id == victim
    assert "altered" in report.broken.reason
    with pytest.raises(CommandError, match=f"id={victim} "):
        call_command("verify_audit", tenant.slug)


def test_owner_removal_breaks_the_next_link(make_tenant):
    tenant = make_tenant()
    ids = _record(tenant, 5)
    with owner_cursor() as raw:
        raw.execute(
            sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier(tenant.schema_name, "audit_event")), [ids[1]]
        )
    report = _verify(tenant)
    assert report.broken is not None
    assert report.broken.id == ids[2]
    assert "sequence jumps" in report.broken.reason


def test_forged_insert_by_the_application_role_is_found(make_tenant):
    """A row inserted behind the recorder's back (no valid link) is named."""
    tenant = make_tenant()
    _record(tenant, 2)
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_event (occurred_at, actor_kind, action, channel, chain_seq, prev_hash, entry_hash) "
            "VALUES (now(), 'system', 'forged', 'cli', 3, %s, %s) RETURNING id",
            ["f" * 64, "e" * 64],
        )
        forged = cursor.fetchone()[0]
    report = _verify(tenant)
    assert report.broken is not None
    assert report.broken.id == forged


def test_concurrent_writers_keep_one_unbroken_chain(make_tenant):
    tenant = make_tenant()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            _record(tenant, 15, prefix=f"t{n}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = _verify(tenant)
    assert report.broken is None, report.broken
    with tenant_context(tenant):
        assert AuditEvent.objects.filter(action__regex=r"^t[0-9]\.").count() == 90


@pytest.mark.worker
def test_daily_job_alerts_on_a_broken_chain(make_tenant, celery_worker_process):
    from shared_apps.core import registry
    from tenant_apps.audit.tasks import audit_chain_verify

    assert registry.periodic_job("verify-audit-chain").per_tenant
    tenant = make_tenant()
    ids = _record(tenant, 3)
    assert audit_chain_verify.delay(schema_name=tenant.schema_name).get(timeout=60) is True
    with owner_cursor() as raw:
        raw.execute(
            sql.SQL("UPDATE {} SET action = 'forged' WHERE id = %s").format(
                sql.Identifier(tenant.schema_name, "audit_event")
            ),
            [ids[1]],
        )
    assert audit_chain_verify.delay(schema_name=tenant.schema_name).get(timeout=60) is False


def test_migration_chains_entries_written_before_the_chain_existed(make_tenant):
    """audit 0002's backfill: entries without links (as before the migration) get a valid chain."""
    import importlib
    from types import SimpleNamespace

    backfill = importlib.import_module("tenant_apps.audit.migrations.0002_hash_chain").backfill
    tenant = make_tenant()
    _record(tenant, 4)
    with owner_cursor() as raw:
        raw.execute(
            sql.SQL("UPDATE {} SET chain_seq = NULL, prev_hash = NULL, entry_hash = NULL").format(
                sql.Identifier(tenant.schema_name, "audit_event")
            )
        )
    broken = _verify(tenant).broken
    assert broken is not None
    assert "no hash" in broken.reason
    owner = connections["owner"]
    try:
        with transaction.atomic(using="owner"), owner.cursor() as cursor:
            cursor.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(tenant.schema_name)))
            backfill(None, SimpleNamespace(connection=owner))
    finally:
        owner.close()
    report = _verify(tenant)
    assert report.broken is None, report.broken
    assert report.entries >= 4
