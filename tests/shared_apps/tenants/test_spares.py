"""Spare schemas: provisioning claims one (rename + RLS policies rewritten) instead of cloning the template,
falls back to cloning when the pool is empty or stale, and two provisionings never claim the same spare."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django_tenants.utils import schema_exists, tenant_context
from psycopg import sql

from shared_apps.core import rls
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import (
    owner_cursor,
    spares_count,
    spares_drop_all,
    spares_drop_stale,
    spares_fill,
)
from shared_apps.tenants.services.spares import spare_claim, spare_names
from tenant_apps.members.models import Membership
from tenant_apps.surveys.models import Survey
from tests.factories import TenantFactory


@pytest.fixture
def empty_pool() -> Iterator[None]:
    spares_drop_all()
    yield
    spares_drop_all()


def _spares() -> list[str]:
    with owner_cursor() as raw:
        return spare_names(raw)


def _inspect(schema_name: str) -> rls.SchemaReport:
    with owner_cursor() as raw:
        (report,) = rls.inspect_schemas(raw, schema_names=[schema_name], app_role=settings.DATABASE_APP_ROLE)
    return report


def test_fill_makes_secured_spares_that_are_not_tenants(empty_pool):
    assert spares_fill(target=2) == 2
    assert spares_fill(target=2) == 0  # already full
    names = _spares()
    assert len(names) == 2
    assert not Organisation.objects.filter(schema_name__in=names).exists()
    for name in names:
        report = _inspect(name)
        assert report.tables > 10
        assert report.problems == []
    call_command("check_isolation", "--quiet")  # spares are inspected too, and pass


def test_provisioning_claims_a_spare_and_rls_names_the_new_schema(empty_pool, tenant_b):
    spares_fill(target=1)
    (spare,) = _spares()
    organisation = TenantFactory(demo=True)
    assert _spares() == []  # claimed: renamed away
    assert not schema_exists(spare)
    report = _inspect(organisation.schema_name)
    assert report.tables > 10
    assert report.problems == []
    call_command("check_isolation", "--quiet")
    # Nothing in the schema still names the spare (function bodies, defaults, views, policies).
    with owner_cursor() as raw:
        raw.execute(
            """
            SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = %(s)s AND position(%(old)s IN p.prosrc) > 0
            UNION ALL SELECT c.relname FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %(s)s AND position(%(old)s IN pg_get_expr(d.adbin, d.adrelid)) > 0
            UNION ALL SELECT viewname FROM pg_views WHERE schemaname = %(s)s AND position(%(old)s IN definition) > 0
            UNION ALL SELECT tablename FROM pg_policies
             WHERE schemaname = %(s)s AND position(%(old)s IN coalesce(qual, '') || coalesce(with_check, '')) > 0
            """,
            {"s": organisation.schema_name, "old": spare},
        )
        assert raw.fetchall() == []
    # Seeders ran in the claimed schema, and RLS admits its rows only under its own name.
    with tenant_context(organisation):
        assert Membership.objects.count() == 1
        assert Survey.objects.count() >= 1
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(tenant_b.schema_name, "surveys_survey"))
            )
            assert cursor.fetchone()[0] == 0
    with tenant_context(tenant_b), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(organisation.schema_name, "surveys_survey"))
        )
        assert cursor.fetchone()[0] == 0


def test_empty_pool_falls_back_to_cloning(empty_pool):
    organisation = TenantFactory()
    assert organisation.status == Organisation.Status.ACTIVE
    assert _inspect(organisation.schema_name).problems == []
    assert _spares() == []


def test_stale_spare_is_not_claimed_and_is_dropped(empty_pool):
    spares_fill(target=1)
    (spare,) = _spares()
    with owner_cursor() as raw:  # the template has moved on: the spare lacks a migration
        raw.execute(
            sql.SQL("DELETE FROM {} WHERE id = (SELECT max(id) FROM {})").format(
                sql.Identifier(spare, "django_migrations"), sql.Identifier(spare, "django_migrations")
            )
        )
    organisation = TenantFactory()
    assert organisation.status == Organisation.Status.ACTIVE
    assert _spares() == [spare]  # cloned instead
    assert spares_drop_stale() == [spare]
    assert spares_count() == 0


def test_a_spare_being_claimed_is_skipped_by_a_concurrent_claim(empty_pool):
    spares_fill(target=1)
    (spare,) = _spares()
    claimed, release = threading.Event(), threading.Event()
    results: dict[str, str | None] = {}

    def first() -> None:
        try:
            with owner_cursor() as raw:
                results["first"] = spare_claim(raw, schema_name="t_spare_race_a")
                claimed.set()
                release.wait(10)
                raw.execute("DROP SCHEMA t_spare_race_a CASCADE")  # clean up in the same transaction
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert claimed.wait(10)
        with owner_cursor() as raw:  # while the first holds it, uncommitted: not claimable
            results["second"] = spare_claim(raw, schema_name="t_spare_race_b")
    finally:
        release.set()
        thread.join(10)
    assert results == {"first": spare, "second": None}
    assert _spares() == []


def test_concurrent_provisionings_never_share_a_spare(empty_pool):
    spares_fill(target=1)
    made: list[Organisation] = []
    errors: list[BaseException] = []

    def provision() -> None:
        try:
            made.append(TenantFactory())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=provision) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len({o.schema_name for o in made}) == 3
    assert _spares() == []
    for organisation in made:
        assert organisation.status == Organisation.Status.ACTIVE
        assert _inspect(organisation.schema_name).problems == []


def test_spare_schemas_command_fills_and_empties(empty_pool, capsys):
    call_command("spare_schemas", "--fill", "1")
    assert "made 1 spare schema(s)" in capsys.readouterr().out
    call_command("spare_schemas", "--drop-all")
    assert "dropped 1 spare schema(s)" in capsys.readouterr().out
    assert spares_count() == 0


def test_partitions_are_maintained_in_spares_and_secured_after_claim(empty_pool):
    import datetime as dt

    from django.utils import timezone

    from shared_apps.tenants.services import partitions_maintain

    spares_fill(target=1)
    (spare,) = _spares()
    future = timezone.now() + dt.timedelta(days=730)  # a spare claimed two years after it was cloned
    changed = partitions_maintain(today=future.date(), now=future)
    month = f"p{future:%Y_%m}"
    assert any(name.endswith(month) for name in changed[spare])
    assert _inspect(spare).problems == []
    organisation = TenantFactory()
    report = _inspect(organisation.schema_name)  # the new partitions' policies name the tenant now
    assert report.problems == []
    with owner_cursor() as raw:
        raw.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
            [organisation.schema_name, f"%{month}"],
        )
        assert raw.fetchone()[0] >= 1


def test_refill_is_one_beat_job_that_drops_stale_spares_and_fills_to_the_setting(empty_pool, settings):
    from config.celery import beat_schedule
    from shared_apps.core import registry
    from shared_apps.tenants.tasks import spares_refill_task

    job = registry.periodic_job("refill-spare-schemas")
    assert not job.per_tenant
    assert beat_schedule()["refill-spare-schemas"]["task"] == "shared_apps.tenants.tasks.spares_refill"
    settings.TENANT_SPARE_SCHEMAS = 1
    spares_fill(target=1)
    (stale,) = _spares()
    with owner_cursor() as raw:
        raw.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(stale, "django_migrations")))
    assert spares_refill_task() == 1
    (fresh,) = _spares()
    assert fresh != stale
    assert spares_refill_task() == 0


def test_bench_tenants_smoke(empty_pool, capsys):
    call_command("bench_tenants", pool=1, clones=1, migrations=0)
    out = capsys.readouterr().out
    assert "pool          1" in out
    assert "clone         1" in out
    assert "target p95 < 0.300 s" in out
