from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services import tenant_resume


class Command(TenantCommand):
    help = "Resume a suspended organisation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = tenant_resume(slug=options["slug"])
        self.stdout.write(self.style.SUCCESS(f"Organisation {organisation.slug!r} is active again."))
