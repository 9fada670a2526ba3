from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services import tenant_hard_delete, tenant_soft_delete


class Command(TenantCommand):
    help = (
        "Delete an organisation. By default a soft delete: it stops answering at once and its schema is "
        f"purged after the grace period (TENANT_PURGE_GRACE_DAYS, now {settings.TENANT_PURGE_GRACE_DAYS} days). "
        "With --hard --yes the schema and all its data are dropped now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")
        parser.add_argument("--hard", action="store_true", help="Drop the schema and all its data now.")
        parser.add_argument("--yes", action="store_true", help="Confirm --hard (it cannot be undone).")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        if options["hard"]:
            if not options["yes"]:
                raise CommandError("--hard drops the schema and every row in it; add --yes to confirm.")
            schema_name = tenant_hard_delete(slug=slug)
            self.stdout.write(self.style.SUCCESS(f"Organisation {slug!r} deleted; schema {schema_name} dropped."))
            return
        organisation = tenant_soft_delete(slug=slug)
        purge_after = f"{organisation.purge_after:%Y-%m-%d %H:%M} UTC"
        self.stdout.write(
            self.style.SUCCESS(
                f"Organisation {slug!r} is deleted and no longer served; its data will be purged after "
                f"{purge_after}. To purge now: delete_tenant {slug} --hard --yes"
            )
        )
