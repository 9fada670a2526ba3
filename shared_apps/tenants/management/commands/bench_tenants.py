"""Benchmark tenant creation: clone-from-template (what the platform does) against
migrate-from-scratch (what django-tenants does without a template), in the same run."""

from __future__ import annotations

import statistics
import time
import uuid
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
        "Create N tenants by cloning the template and M by running every migration, print p50/p95 per "
        "creation for both, then delete them. Runs as the owner role; use a scratch database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clones", type=int, default=50, help="Tenants created by cloning (default 50).")
        parser.add_argument("--migrations", type=int, default=10, help="Tenants created by migrating (default 10).")
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

    def handle(self, *args: Any, **options: Any) -> None:
        run = uuid.uuid4().hex[:6]
        password = password_generate()
        admin_email = f"bench-{run}@example.test"
        created: list[str] = []
        timings: dict[str, list[float]] = {"clone": [], "migrate": []}
        try:
            for i in range(options["clones"]):
                slug = f"bench-c{run}-{i}"
                started = time.perf_counter()
                tenant_create(slug=slug, name="Bench", admin_email=admin_email, admin_password=password)
                timings["clone"].append(time.perf_counter() - started)
                created.append(slug)
                self.stdout.write(f"\rclone   {i + 1}/{options['clones']}", ending="")
                self.stdout.flush()
            self.stdout.write("")
            admin = (
                User.objects.get(email=admin_email)
                if options["clones"]
                else User.objects.create_user(admin_email, password)
            )
            for i in range(options["migrations"]):
                slug = f"bench-m{run}-{i}"
                started = time.perf_counter()
                self._migrate_based(slug, admin)
                timings["migrate"].append(time.perf_counter() - started)
                created.append(slug)
                self.stdout.write(f"\rmigrate {i + 1}/{options['migrations']}", ending="")
                self.stdout.flush()
            self.stdout.write("")
        finally:
            if not options["keep"]:
                for slug in created:
                    tenant_hard_delete(slug=slug)
                User.objects.filter(email=admin_email).delete()

        self.stdout.write(f"tenant creation ({settings.DATABASES['default']['NAME']}), seconds per tenant:")
        self.stdout.write(f"{'method':<10}{'n':>5}{'p50':>10}{'p95':>10}{'mean':>10}{'max':>10}")
        for method, values in timings.items():
            if not values:
                continue
            self.stdout.write(
                f"{method:<10}{len(values):>5}{_percentile(values, 0.5):>10.3f}{_percentile(values, 0.95):>10.3f}"
                f"{statistics.mean(values):>10.3f}{max(values):>10.3f}"
            )
        if timings["clone"] and timings["migrate"]:
            ratio = statistics.median(timings["migrate"]) / statistics.median(timings["clone"])
            self.stdout.write(f"clone is {ratio:.1f}x faster than migrate at the median")
