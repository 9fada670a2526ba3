from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from billing.services import plan_override
from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import customer_get, tenant_update


class Command(TenantCommand):
    help = (
        "Change an organisation's name, plan or rate limits (e.g. --rate-limit-user 300/min; an empty "
        "value restores the platform default). Audited in the organisation's log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")
        parser.add_argument("--name", default=None)
        parser.add_argument(
            "--plan",
            default=None,
            choices=Organisation.Plan.values,
            help="Fix the plan by hand (a manual override, audited; Stripe webhooks then keep it).",
        )
        parser.add_argument("--reason", default="", help="Why the plan is overridden (kept in the audit log).")
        parser.add_argument(
            "--clear-plan-override",
            action="store_true",
            help="Return to the plan the subscription pays for (or free).",
        )
        parser.add_argument("--rate-limit-user", default=None, help="Requests per signed-in user, e.g. 300/min.")
        parser.add_argument("--rate-limit-anon", default=None, help="Requests per anonymous IP, e.g. 50/min.")
        parser.add_argument(
            "--deleted-retention-days", default=None, help="Days soft-deleted responses are kept before the purge."
        )
        parser.add_argument("--timezone", default=None, help="IANA time zone of the reports, e.g. Europe/Paris.")

    def handle(self, *args: Any, **options: Any) -> None:
        changes = {
            key: options[key]
            for key in ("name", "rate_limit_user", "rate_limit_anon", "deleted_retention_days", "timezone")
            if options[key] is not None
        }
        organisation = customer_get(options["slug"])
        if changes:
            organisation = tenant_update(slug=options["slug"], **changes)
        if options["plan"] is not None or options["clear_plan_override"]:
            plan_override(
                organisation=organisation,
                plan_key=None if options["clear_plan_override"] else options["plan"],
                reason=options["reason"],
            )
            organisation.refresh_from_db()
        self.stdout.write(
            self.style.SUCCESS(
                f"Organisation {organisation.slug!r}: name={organisation.name!r} plan={organisation.plan} "
                f"rate_limit_user={organisation.rate_limit_user or 'default'} "
                f"rate_limit_anon={organisation.rate_limit_anon or 'default'} "
                f"deleted_retention_days={organisation.deleted_retention_days} timezone={organisation.timezone}"
            )
        )
