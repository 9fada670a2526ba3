from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from shared_apps.accounts.models import User
from shared_apps.accounts.services import password_generate
from shared_apps.core import registry
from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import tenant_create, tenant_url


class Command(TenantCommand):
    help = (
        "Create the demo organisation 'demo' (with a demo survey) if it is missing, give its admin a fresh "
        "password, and print how to sign in. Safe to run on every start."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default="admin@demo.localhost", help="The demo admin's email.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = password_generate()
        organisation = Organisation.objects.filter(slug="demo").first()
        if organisation is None:
            self.stdout.write("Creating the demo organisation...")
            created = tenant_create(
                slug="demo", name="Demo Organisation", admin_email=options["email"], admin_password=password, demo=True
            )
            organisation, admin = created.organisation, created.admin
        else:
            admin = User.objects.get(email=options["email"])
        admin.set_password(password)
        admin.save(update_fields=["password"])
        self.stdout.write(self.style.SUCCESS("Demo organisation ready:"))
        self.stdout.write(f"  URL:            {tenant_url(organisation)}")
        self.stdout.write(f"  Admin email:    {admin.email}")
        self.stdout.write(f"  Admin password: {password}  (new on every start)")
        for _name, lines in registry.demo_lines():
            for label, value in lines(organisation):
                self.stdout.write(f"  {label + ':':<16}{value}")
