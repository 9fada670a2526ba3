"""Shared behaviour of the operator commands: clear errors, non-zero exit on failure."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from shared_apps.tenants.services import TenantError


class TenantCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except TenantError as exc:
            raise CommandError(str(exc)) from exc
