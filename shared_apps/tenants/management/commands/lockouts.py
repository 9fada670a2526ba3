from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.core import registry
from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.models import Organisation


class Command(TenantCommand):
    help = (
        "List an organisation's failed sign-in records (locked ones first) or clear them with --clear "
        "(by --email, by --ip, or all). Cleared lockouts are audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")
        parser.add_argument("--clear", action="store_true", help="Remove the records (unlock).")
        parser.add_argument("--email", default=None, help="Only this account.")
        parser.add_argument("--ip", default=None, help="Only this IP address.")

    def handle(self, *args: Any, **options: Any) -> None:
        from axes.models import AccessAttempt

        organisation = Organisation.objects.filter(slug=options["slug"], kind=Organisation.Kind.CUSTOMER).first()
        if organisation is None:
            raise CommandError(f"No organisation with the subdomain {options['slug']!r}.")
        with tenant_context(organisation):
            attempts = AccessAttempt.objects.all()
            if options["email"]:
                attempts = attempts.filter(username=options["email"].strip().lower())
            if options["ip"]:
                attempts = attempts.filter(ip_address=options["ip"])
            if options["clear"]:
                if not (options["email"] or options["ip"]):
                    self.stdout.write("Clearing every failed sign-in record of this organisation.")
                count, _ = attempts.delete()
                registry.audit(
                    action="auth.lockout_cleared",
                    target_type="organisation",
                    target_id=organisation.slug,
                    changes={"records": count, "by_ip": bool(options["ip"]), "by_account": bool(options["email"])},
                )
                self.stdout.write(self.style.SUCCESS(f"Cleared {count} record(s)."))
                return
            since = timezone.now() - settings.AXES_COOLOFF_TIME
            rows = sorted(
                attempts,
                key=lambda a: (a.failures_since_start < settings.AXES_FAILURE_LIMIT, -a.attempt_time.timestamp()),
            )
            if not rows:
                self.stdout.write("No failed sign-in records.")
                return
            self.stdout.write(f"{'STATE':<8}{'FAILURES':>9}  {'LAST ATTEMPT (UTC)':<20} {'IP':<40} ACCOUNT")
            for a in rows:
                locked = a.failures_since_start >= settings.AXES_FAILURE_LIMIT and a.attempt_time >= since
                self.stdout.write(
                    f"{'LOCKED' if locked else 'ok':<8}{a.failures_since_start:>9}  "
                    f"{a.attempt_time:%Y-%m-%d %H:%M:%S} {a.ip_address or '-':<40} {a.username or '-'}"
                )
