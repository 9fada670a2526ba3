from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import tenant_update


class Command(TenantCommand):
    help = (
        "Change an organisation's name, plan or rate limits (e.g. --rate-limit-user 300/min; an empty "
        "value restores the platform default). Audited in the organisation's log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")
        parser.add_argument("--name", default=None)
        parser.add_argument("--plan", default=None, choices=Organisation.Plan.values)
        parser.add_argument("--rate-limit-user", default=None, help="Requests per signed-in user, e.g. 300/min.")
        parser.add_argument("--rate-limit-anon", default=None, help="Requests per anonymous IP, e.g. 50/min.")
        parser.add_argument(
            "--deleted-retention-days", default=None, help="Days soft-deleted responses are kept before the purge."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        changes = {
            key: options[key]
            for key in ("name", "plan", "rate_limit_user", "rate_limit_anon", "deleted_retention_days")
            if options[key] is not None
        }
        organisation = tenant_update(slug=options["slug"], **changes)
        self.stdout.write(
            self.style.SUCCESS(
                f"Organisation {organisation.slug!r}: name={organisation.name!r} plan={organisation.plan} "
                f"rate_limit_user={organisation.rate_limit_user or 'default'} "
                f"rate_limit_anon={organisation.rate_limit_anon or 'default'} "
                f"deleted_retention_days={organisation.deleted_retention_days}"
            )
        )
