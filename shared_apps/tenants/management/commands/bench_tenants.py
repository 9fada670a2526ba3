"""Benchmark tenant creation, in the same run: claiming a spare schema from the pool (what the platform does when
the pool is filled), cloning the template (the fallback when it is empty) and migrating from scratch (what
django-tenants does without a template)."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from psycopg import sql

from shared_apps.accounts.models import User
from shared_apps.accounts.services import password_generate
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import (
    owner_cursor,
    schema_secure,
    spares_drop_all,
    spares_fill,
    tenant_create,
    tenant_hard_delete,
    tenant_register,
)
from shared_apps.tenants.services.provisioning import _tenant_seed


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Command(BaseCommand):
    help = (
        "Create N tenants by cloning the template (pool empty), P from a pool of P spare schemas filled beforehand "
        "(not timed) and M by running every migration; print p50/p95/p99 per creation for each, then delete them. "
        "Runs as the owner role; use a scratch database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clones", type=int, default=50, help="Tenants created by cloning (default 50).")
        parser.add_argument("--pool", type=int, default=50, help="Tenants created from spare schemas (default 50).")
        parser.add_argument("--migrations", type=int, default=10, help="Tenants created by migrating (default 10).")
        parser.add_argument(
            "--migrate-all",
            action="store_true",
            help="Then time migrate_schemas over every tenant with nothing to apply (a migration's per-tenant floor).",
        )
        parser.add_argument("--keep", action="store_true", help="Keep the benchmark tenants afterwards.")

    def _migrate_based(self, slug: str, admin: User) -> None:
        organisation = tenant_register(slug=slug, name="Bench", created_by=admin)
        with owner_cursor() as cursor:
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(organisation.schema_name)))
        call_command(
            "migrate_schemas", schema_name=organisation.schema_name, tenant=True, interactive=False, verbosity=0
        )
        schema_secure(schema_name=organisation.schema_name)
        _tenant_seed(organisation=organisation, admin=admin, demo=False)
        Organisation.objects.filter(pk=organisation.pk).update(
            status=Organisation.Status.ACTIVE, provisioned_at=timezone.now()
        )

    def _series(self, method: str, count: int, make: Callable[[str], None], timings: list[float]) -> None:
        for i in range(count):
            slug = f"bench-{method[0]}{self.run}-{i}"
            started = time.perf_counter()
            try:
                make(slug)
            finally:
                self.created.append(slug)
            timings.append(time.perf_counter() - started)
            self.stdout.write(f"\r{method:<8}{i + 1}/{count}", ending="")
            self.stdout.flush()
        if count:
            self.stdout.write("")

    def _migrate_all(self) -> tuple[int, float]:
        """``migrate_schemas`` over every tenant with nothing to apply: the per-tenant floor of any migration."""
        tenants = Organisation.objects.exclude(schema_name="public").count()
        started = time.perf_counter()
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
        return tenants, time.perf_counter() - started

    def handle(self, *args: Any, **options: Any) -> None:
        self.run = uuid.uuid4().hex[:6]
        password = password_generate()
        admin_email = f"bench-{self.run}@example.test"
        self.created: list[str] = []
        timings: dict[str, list[float]] = {"pool": [], "clone": [], "migrate": []}
        fill_seconds = 0.0
        migrate_all: tuple[int, float] | None = None

        def create(slug: str) -> None:
            tenant_create(slug=slug, name="Bench", admin_email=admin_email, admin_password=password)

        try:
            spares_drop_all()  # the clone path runs with an empty pool
            self._series("clone", options["clones"], create, timings["clone"])
            if options["pool"]:
                started = time.perf_counter()
                spares_fill(target=options["pool"])
                fill_seconds = time.perf_counter() - started
            self._series("pool", options["pool"], create, timings["pool"])
            admin = (
                User.objects.get(email=admin_email)
                if options["clones"] or options["pool"]
                else User.objects.create_user(admin_email, password)
            )
            self._series(
                "migrate", options["migrations"], lambda slug: self._migrate_based(slug, admin), timings["migrate"]
            )
            if options["migrate_all"]:
                migrate_all = self._migrate_all()
        finally:
            spares_drop_all()
            if not options["keep"]:
                for slug in self.created:
                    tenant_hard_delete(slug=slug)
                User.objects.filter(email=admin_email).delete()

        self.stdout.write(f"tenant creation ({settings.DATABASES['default']['NAME']}), seconds per tenant:")
        self.stdout.write(f"{'method':<10}{'n':>5}{'p50':>10}{'p95':>10}{'p99':>10}{'mean':>10}{'max':>10}")
        for method, values in timings.items():
            if not values:
                continue
            self.stdout.write(
                f"{method:<10}{len(values):>5}{_percentile(values, 0.5):>10.3f}{_percentile(values, 0.95):>10.3f}"
                f"{_percentile(values, 0.99):>10.3f}{statistics.mean(values):>10.3f}{max(values):>10.3f}"
            )
        if timings["pool"]:
            p95 = _percentile(timings["pool"], 0.95)
            verdict = "met" if p95 < 0.3 else "NOT met"
            self.stdout.write(
                f"pool: filling {len(timings['pool'])} spares took {fill_seconds:.1f} s (background work); "
                f"target p95 < 0.300 s: {verdict} ({p95:.3f} s)"
            )
        if timings["clone"] and timings["pool"]:
            ratio = statistics.median(timings["clone"]) / statistics.median(timings["pool"])
            self.stdout.write(f"pool is {ratio:.1f}x faster than clone at the median")
        if timings["clone"] and timings["migrate"]:
            ratio = statistics.median(timings["migrate"]) / statistics.median(timings["clone"])
            self.stdout.write(f"clone is {ratio:.1f}x faster than migrate at the median")
        if migrate_all is not None:
            tenants, seconds = migrate_all
            self.stdout.write(
                f"migrate_schemas, nothing to apply: {tenants} tenant schemas in {seconds:.1f} s "
                f"({seconds / max(tenants, 1):.3f} s per schema; x200 = {200 * seconds / max(tenants, 1):.0f} s)"
            )
