from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from tenant_apps.webhooks.schedule import nominal_schedule


def _human(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


class Command(BaseCommand):
    help = "Print the webhook retry schedule of the current settings (nominal delays, before jitter)."

    def handle(self, *args: Any, **options: Any) -> None:
        jitter = float(settings.WEBHOOK_RETRY_JITTER)
        self.stdout.write(
            f"attempt 1 at 0s; timeout {settings.WEBHOOK_TIMEOUT_SECONDS}s; jitter ±{jitter:.0%}; "
            f"window {_human(settings.WEBHOOK_RETRY_WINDOW_SECONDS)}"
        )
        for retry, wait, elapsed in nominal_schedule():
            self.stdout.write(
                f"attempt {retry + 1:>2}: wait {_human(wait)} "
                f"({_human(wait * (1 - jitter))}..{_human(wait * (1 + jitter))}), at {_human(elapsed)}"
            )
