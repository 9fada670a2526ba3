from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from billing.limits import month_start
from billing.models import UsageMonth
from billing.plans import plan_get
from billing.selectors import billing_state
from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.selectors import organisation_list
from shared_apps.tenants.services import tenant_url


class Command(TenantCommand):
    help = "List organisations with their status, plan, billing state, responses this month, schema and URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print a JSON array instead of a table.")
        parser.add_argument(
            "--status",
            default=None,
            choices=Organisation.Status.values,
            help="Only organisations with this status (pending_verification: signups whose e-mail is not verified; "
            "see also list_signups and purge_signups).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisations = organisation_list()
        if options["status"]:
            organisations = organisations.filter(status=options["status"])
        organisations = organisations.select_related("billing_account")
        used = dict(UsageMonth.objects.filter(month=month_start()).values_list("organisation_id", "responses"))
        rows = [
            {
                "slug": o.slug,
                "name": o.name,
                "status": o.status,
                "plan": o.plan,
                "billing": billing_state(getattr(o, "billing_account", None)),
                "responses_this_month": used.get(o.pk, 0),
                "responses_limit": plan_get(o.plan).responses_per_month,
                "schema": o.schema_name,
                "url": tenant_url(o),
                "created_at": o.created_at.isoformat(),
                "purge_after": o.purge_after.isoformat() if o.purge_after else None,
            }
            for o in organisations
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No organisations.")
            return
        header = ("SLUG", "STATUS", "PLAN", "BILLING", "RESPONSES/MONTH", "SCHEMA", "URL")
        table = [header] + [
            (
                r["slug"],
                r["status"],
                r["plan"],
                r["billing"],
                f"{r['responses_this_month']}/{r['responses_limit'] if r['responses_limit'] is not None else '-'}",
                r["schema"],
                r["url"],
            )
            for r in rows
        ]
        widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
        for row in table:
            self.stdout.write("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        self.stdout.write(f"{len(rows)} organisation(s).")
