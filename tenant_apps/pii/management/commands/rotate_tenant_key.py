"""``manage.py rotate_tenant_key SLUG``: rotate the organisation's key-encryption key in Vault and rewrap its data
keys with the new version. No data is rewritten (the data keys do not change)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django_tenants.utils import tenant_context

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services.base import customer_get
from tenant_apps.audit.services import audit_record
from tenant_apps.pii.services import tenant_key_rotate


class Command(TenantCommand):
    help = "Rotate an organisation's key-encryption key (Vault transit) and rewrap its data keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = customer_get(options["slug"])
        with tenant_context(organisation):
            result = tenant_key_rotate()
            audit_record(
                action="pii.key_rotated", target_type="organisation", target_id=organisation.slug, changes=result
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Key of {organisation.slug!r} rotated to version {result['kek_version']}; "
                f"{result['data_keys']} data key(s) rewrapped."
            )
        )
