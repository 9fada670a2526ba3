from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.utils import timezone

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services import signups_pending
from shared_apps.tenants.services.base import signup_expiry_cutoff


class Command(TenantCommand):
    help = (
        "List self-service signups whose e-mail address is not verified yet (status pending_verification: no "
        "schema, no domain), oldest first, with their age. Signups older than SIGNUP_VERIFICATION_HOURS have "
        "expired and are removed by the hourly beat job or by purge_signups."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=float, default=None, metavar="HOURS", help="Only signups this old.")

    def handle(self, *args: Any, **options: Any) -> None:
        older = options["older_than"]
        rows = signups_pending(older_than=dt.timedelta(hours=older) if older is not None else None)
        if not rows:
            self.stdout.write("No unverified signups.")
            return
        cutoff = signup_expiry_cutoff()
        self.stdout.write(f"{'SUBDOMAIN':<42}{'AGE (h)':>8}  {'STATE':<8} E-MAIL")
        now = timezone.now()
        for o in rows:
            age = (now - o.created_at).total_seconds() / 3600
            state = "expired" if o.created_at < cutoff else "waiting"
            self.stdout.write(f"{o.slug:<42}{age:>8.1f}  {state:<8} {o.signup_email}")
        self.stdout.write(
            f"{len(rows)} unverified signup(s); links expire after {settings.SIGNUP_VERIFICATION_HOURS} hours."
        )
