from __future__ import annotations

import shutil
from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import CommandParser
from django_tenants.utils import tenant_context

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services import customer_get
from tenant_apps.privacy import portability


class Command(TenantCommand):
    help = (
        "Build an organisation's portability archive now (zip of JSON and CSV: surveys, versions, submissions, "
        "answers, members), store it like the API's, audit it, and optionally copy it to --output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")
        parser.add_argument("--output", default=None, help="Also write the zip to this file.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = customer_get(options["slug"])
        with tenant_context(organisation):
            export = portability.tenant_export_request(requested_by_id=None, enqueue=False)
            try:
                export = portability.tenant_export_run(export_id=export.pk)
            except Exception as exc:
                portability.tenant_export_fail(export_id=export.pk, reason=type(exc).__name__)
                raise
        if options["output"]:
            with default_storage.open(export.storage_key, "rb") as source, open(options["output"], "wb") as target:
                shutil.copyfileobj(source, target)
        counts = " ".join(f"{k}={v}" for k, v in export.counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"{organisation.slug}: export {export.pk} ({export.size} bytes) {counts} -> {export.storage_key}"
            )
        )
