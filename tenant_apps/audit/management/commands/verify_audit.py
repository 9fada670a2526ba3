from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django_tenants.utils import tenant_context

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services import customer_get
from tenant_apps.audit.chain import audit_verify
from tenant_apps.audit.services import audit_record


class Command(TenantCommand):
    help = (
        "Check an organisation's audit hash chain, partition by partition. Names the first broken link "
        "(an entry altered, inserted or removed) and exits 1; exits 0 when every link holds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = customer_get(options["slug"])
        with tenant_context(organisation):
            with connection.cursor() as cursor:
                report = audit_verify(cursor=cursor)
            audit_record(
                action="audit.verified",
                target_type="organisation",
                target_id=organisation.slug,
                changes={"entries": report.entries, "ok": report.broken is None},
            )
        if report.broken is not None:
            raise CommandError(f"{organisation.slug}: {report.broken}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{organisation.slug}: {report.entries} audit entries in {report.partitions} partitions, chain intact."
            )
        )
