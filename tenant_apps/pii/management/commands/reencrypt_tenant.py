"""``manage.py reencrypt_tenant SLUG``: move the organisation's personal data to a new data key, in resumable
batches with progress. Run it again after an interruption: it resumes (no new key) while values are left under
a retired key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django_tenants.utils import tenant_context

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services.base import customer_get
from tenant_apps.audit.services import audit_record
from tenant_apps.pii.reencrypt import Progress, reencrypt_run


class Command(TenantCommand):
    help = "Re-encrypt an organisation's personal data under a new data key (resumable batches)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")
        parser.add_argument("--batch", type=int, default=500, help="Values per transaction (default 500).")
        parser.add_argument("--max-batches", type=int, default=None, help="Stop after this many batches.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = customer_get(options["slug"])

        def report(progress: Progress) -> None:
            self.stdout.write(f"  {progress.done}/{progress.total} values re-encrypted")

        with tenant_context(organisation):
            progress = reencrypt_run(size=max(1, options["batch"]), max_batches=options["max_batches"], report=report)
            finished = progress.done >= progress.total
            audit_record(
                action="pii.reencrypted",
                target_type="organisation",
                target_id=organisation.slug,
                changes={"data_key": progress.kid, "values": progress.done, "finished": finished,
                         "resumed": progress.resumed},
            )  # fmt: skip
        state = "finished" if finished else "stopped early; run it again to resume"
        verb = "Resumed" if progress.resumed else "Started"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} on data key {progress.kid}: {progress.done}/{progress.total} values re-encrypted, {state}."
            )
        )
