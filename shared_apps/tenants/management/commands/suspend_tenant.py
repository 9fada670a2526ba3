from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services import tenant_suspend


class Command(TenantCommand):
    help = "Suspend an organisation: its API answers 403 until it is resumed. Its data is kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")
        parser.add_argument("--reason", default="", help="Why (kept on the organisation).")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = tenant_suspend(slug=options["slug"], reason=options["reason"])
        self.stdout.write(self.style.SUCCESS(f"Organisation {organisation.slug!r} is suspended."))
