"""Shared behaviour of the operator commands: clear errors, non-zero exit on failure."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from shared_apps.core.context import Actor, actor_var
from shared_apps.tenants.services import TenantError


class TenantCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        # Audit entries made by operator commands say so: channel cli, actor system (the OS user).
        token = actor_var.set(Actor(kind="system", channel="cli", user_agent=f"manage.py ({_os_user()})"))
        try:
            return super().execute(*args, **options)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except TenantError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            actor_var.reset(token)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
