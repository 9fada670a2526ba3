"""The pool of spare schemas provisioning claims instead of cloning the template."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services import spares_count, spares_drop_all, spares_drop_stale, spares_fill


class Command(TenantCommand):
    help = (
        "Show, fill or empty the pool of spare tenant schemas (cloned, secured and migrated ahead of time; "
        "provisioning renames one instead of cloning). Runs as the owner role."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fill",
            type=int,
            nargs="?",
            const=-1,
            default=None,
            metavar="N",
            help="Drop stale spares, then clone until N are ready (default: TENANT_SPARE_SCHEMAS).",
        )
        parser.add_argument("--drop-stale", action="store_true", help="Drop spares the template has outgrown.")
        parser.add_argument("--drop-all", action="store_true", help="Empty the pool.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["drop_all"]:
            self.stdout.write(f"dropped {spares_drop_all()} spare schema(s)")
        if options["drop_stale"]:
            self.stdout.write(f"dropped {len(spares_drop_stale())} stale spare schema(s)")
        if options["fill"] is not None:
            target = settings.TENANT_SPARE_SCHEMAS if options["fill"] < 0 else options["fill"]
            self.stdout.write(f"made {spares_fill(target=target)} spare schema(s)")
        self.stdout.write(f"{spares_count()} spare schema(s) ready (target {settings.TENANT_SPARE_SCHEMAS})")
