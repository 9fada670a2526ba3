from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from shared_apps.core import rls


class Command(BaseCommand):
    help = (
        "Verify tenant isolation: every table in every tenant schema has row-level security enabled and "
        "forced with the tenant policy, and the application role cannot bypass it. Exits 1 on any problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="Print problems only.")

    def handle(self, *args: Any, **options: Any) -> None:
        app_role = settings.DATABASE_APP_ROLE
        with connection.cursor() as cursor:
            raw = cursor.cursor
            problems = rls.role_problems(raw, app_role=app_role)
            reports = rls.inspect_schemas(raw, schema_names=rls.tenant_schema_names(raw), app_role=app_role)
        if not options["quiet"]:
            self.stdout.write(
                f"application role {app_role!r}: "
                + ("NOT SAFE" if problems else "no superuser, no BYPASSRLS, no privileged membership")
            )
        for report in reports:
            problems += report.problems
            if not options["quiet"]:
                state = "ok  " if not report.problems else "FAIL"
                self.stdout.write(f"{state} {report.schema_name}: {report.tables} tables")
        for problem in problems:
            self.stderr.write(self.style.ERROR(f"  {problem}"))
        if problems:
            raise CommandError(f"Isolation check failed: {len(problems)} problem(s) in {len(reports)} schema(s).")
        self.stdout.write(self.style.SUCCESS(f"Isolation check passed: {len(reports)} tenant schema(s)."))
