from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from billing.services import billing_sync


class Command(BaseCommand):
    help = (
        "Create or update the Stripe products and monthly prices of the plan catalogue (billing/plans.py), "
        "found by lookup key. Idempotent: a second run changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for line in billing_sync():
            self.stdout.write(line)
