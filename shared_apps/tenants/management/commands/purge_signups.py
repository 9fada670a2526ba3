from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services import signups_pending, signups_purge_expired


class Command(TenantCommand):
    help = (
        "Delete self-service signups whose e-mail address was not verified (status pending_verification), "
        "freeing their subdomains. They have no schema and no domain, so nothing else is touched. By default "
        "only expired ones (older than SIGNUP_VERIFICATION_HOURS); the hourly beat job does the same."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            metavar="HOURS",
            help="Purge signups at least this many hours old (default: SIGNUP_VERIFICATION_HOURS; 0: all).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only print what would be purged.")

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["older_than"]
        if hours is None:
            hours = float(settings.SIGNUP_VERIFICATION_HOURS)
        if hours < 0:
            raise CommandError("--older-than must be 0 or more hours.")
        older_than = dt.timedelta(hours=hours)
        if options["dry_run"]:
            slugs = [o.slug for o in signups_pending(older_than=older_than)]
            for slug in slugs:
                self.stdout.write(f"would purge {slug}")
            self.stdout.write(f"{len(slugs)} unverified signup(s) would be purged.")
            return
        slugs = signups_purge_expired(older_than=older_than)
        for slug in slugs:
            self.stdout.write(f"purged {slug}")
        self.stdout.write(self.style.SUCCESS(f"Purged {len(slugs)} unverified signup(s)."))
