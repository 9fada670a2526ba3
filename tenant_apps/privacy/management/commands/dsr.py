from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django_tenants.utils import tenant_context

from shared_apps.tenants.management.commands._base import TenantCommand
from shared_apps.tenants.services import customer_get
from tenant_apps.privacy import services


class Command(TenantCommand):
    help = (
        "A data-subject request in an organisation, by e-mail and/or respondent key, across all its surveys. "
        "access: print (or --output) the JSON document of everything held; erase: delete it. Both are audited "
        "and print their receipt."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's subdomain.")
        parser.add_argument("action", choices=["access", "erase"])
        parser.add_argument("--email", default=None, help="The subject's e-mail address.")
        parser.add_argument("--respondent-key", default=None, help="The respondent key their client sent.")
        parser.add_argument("--output", default=None, help="access: write the document to this file.")
        parser.add_argument("--yes", action="store_true", help="erase: do not ask for confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = customer_get(options["slug"])
        with tenant_context(organisation):
            try:
                subject = services.subject_clean(email=options["email"], respondent_key=options["respondent_key"])
            except ValidationError as exc:
                raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
            if options["action"] == "access":
                record, document = services.dsr_access(subject=subject)
                text = json.dumps(document, indent=2, ensure_ascii=False)
                if options["output"]:
                    with open(options["output"], "w", encoding="utf-8") as handle:
                        handle.write(text)
                else:
                    self.stdout.write(text)
            else:
                if not options["yes"]:
                    raise CommandError("Erasure cannot be undone: add --yes.")
                record = services.dsr_erase(subject=subject)
        receipt = json.dumps(services.receipt_data(record), sort_keys=True)
        (self.stderr if options["action"] == "access" and not options["output"] else self.stdout).write(
            f"receipt: {receipt}"
        )
