"""Sign-in, failed sign-in and sign-out on the platform host go to the platform log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from shared_apps.operators.services import identifier_hash, on_platform_host, operator_event_record


@receiver(user_logged_in, dispatch_uid="operators.logged_in")
def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and on_platform_host(request):
        operator_event_record(request=request, action="admin.login", user=user, target_type="user", target_id=user.pk)


@receiver(user_login_failed, dispatch_uid="operators.login_failed")
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is not None and on_platform_host(request):
        typed = str(credentials.get("username", ""))
        operator_event_record(
            request=request,
            action="admin.login_failed",
            user=None,
            changes={
                "identifier_hash": identifier_hash(typed),
                "locked_out": bool(getattr(request, "axes_locked_out", False)),
            },
        )


@receiver(user_logged_out, dispatch_uid="operators.logged_out")
def on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and user is not None and on_platform_host(request):
        operator_event_record(request=request, action="admin.logout", user=user, target_type="user", target_id=user.pk)
