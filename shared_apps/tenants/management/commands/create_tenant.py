from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import tenant_create


class Command(TenantCommand):
    help = (
        "Create an organisation: clone the template schema, apply row-level security, create its admin. "
        "Prints the organisation's URL and the admin's credentials."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True, help="Subdomain, e.g. 'acme' for acme.<PLATFORM_DOMAIN>.")
        parser.add_argument("--name", required=True, help="Organisation's display name.")
        parser.add_argument("--admin-email", required=True, help="Email of the organisation's first admin.")
        parser.add_argument(
            "--admin-password",
            default=None,
            help="Password for a new admin account (default: a random one, printed once).",
        )
        parser.add_argument("--plan", default=Organisation.Plan.FREE, choices=Organisation.Plan.values)
        parser.add_argument("--demo", action="store_true", help="Also create a demo survey.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Creating organisation {options['slug']!r}...")
        created = tenant_create(
            slug=options["slug"],
            name=options["name"],
            admin_email=options["admin_email"],
            admin_password=options["admin_password"],
            plan=options["plan"],
            demo=options["demo"],
        )
        org = created.organisation
        self.stdout.write(self.style.SUCCESS(f"Organisation {org.slug!r} is ready (schema {org.schema_name})."))
        self.stdout.write(f"  URL:            {created.url}")
        self.stdout.write(f"  Admin email:    {created.admin.email}")
        if created.generated_password:
            self.stdout.write(f"  Admin password: {created.generated_password}  (shown once; change it after login)")
        elif not created.admin_created:
            self.stdout.write("  Admin password: (existing account: its password is unchanged)")
        else:
            self.stdout.write("  Admin password: (as given)")
