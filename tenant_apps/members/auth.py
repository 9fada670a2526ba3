"""Sign-in, token refresh, logout, password reset and change (on a tenant host)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from rest_framework import exceptions, status

from shared_apps.accounts.models import User
from shared_apps.core.errors import error_response
from shared_apps.core.tenancy import current_schema
from tenant_apps.audit.services import audit_record
from tenant_apps.members import tokens
from tenant_apps.members.access import principal_get
from tenant_apps.members.models import Membership
from tenant_apps.notifications.services import email_enqueue

INVALID_CREDENTIALS = "Invalid email or password."


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self) -> None:
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        super().__init__(f"Too many failed sign-in attempts. Try again in {minutes} minutes or reset your password.")
        self.wait = int(settings.AXES_COOLOFF_TIME.total_seconds())


def _identifier_hash(email: str) -> str:
    """Audit failed attempts without storing the email typed in."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    return str((credentials or {}).get("username", "")).strip().lower()


def axes_lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    exc = LockedOut()
    return error_response(429, "locked_out", str(exc.detail), headers={"Retry-After": str(exc.wait)})


def auth_login(*, request: HttpRequest, email: str, password: str) -> tokens.TokenPair:
    email = email.strip().lower()
    user = authenticate(request=request, username=email, password=password)
    if getattr(request, "axes_locked_out", False):
        audit_record(action="auth.login_locked_out", changes={"identifier_hash": _identifier_hash(email)})
        raise LockedOut()
    if user is None:
        audit_record(
            action="auth.login_failed",
            changes={"identifier_hash": _identifier_hash(email), "reason": "bad_credentials"},
        )
        raise exceptions.AuthenticationFailed(INVALID_CREDENTIALS)
    principal = principal_get(user.pk)
    if principal is None or not principal.active:
        audit_record(action="auth.login_failed", actor_id=user.pk, changes={"reason": "no_active_membership"})
        raise exceptions.AuthenticationFailed(INVALID_CREDENTIALS)
    pair = tokens.tokens_issue(user_id=user.pk, schema=current_schema())
    audit_record(action="auth.login", actor_id=user.pk, target_type="user", target_id=user.pk)
    return pair


def auth_refresh(*, raw_refresh: str) -> tokens.TokenPair:
    schema = current_schema()
    try:
        pair = tokens.tokens_rotate(raw_refresh=raw_refresh, schema=schema)
    except tokens.RefreshRejected as exc:
        if exc.reason == "reused":
            audit_record(
                action="auth.refresh_reuse_detected",
                actor_id=exc.user_id,
                target_type="session",
                target_id=(exc.family or "")[:12],
                changes={"revoked": "token family"},
            )
        raise exceptions.AuthenticationFailed("The refresh token is invalid, expired or revoked.") from exc
    return pair


def auth_logout(*, raw_refresh: str) -> None:
    try:
        user_id, family = tokens.tokens_revoke_refresh(raw_refresh=raw_refresh, schema=current_schema())
    except tokens.RefreshRejected as exc:
        raise exceptions.AuthenticationFailed("The refresh token is invalid, expired or revoked.") from exc
    audit_record(
        action="auth.logout",
        actor_id=user_id,
        target_type="session",
        target_id=family[:12],
        changes={"revoked": "token family"},
    )


def _password_set(*, user: User, password: str, action: str) -> None:
    validate_password(password, user=user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        revoked = tokens.tokens_revoke_user(user_id=user.pk)  # every tenant: the password is the account's
        audit_record(
            action=action,
            actor_id=user.pk,
            target_type="user",
            target_id=user.pk,
            changes={"sessions_revoked": revoked},
        )


def auth_password_change(*, user_id: int, current_password: str, new_password: str) -> None:
    user = User.objects.get(pk=user_id)
    if not user.check_password(current_password):
        raise ValidationError({"current_password": ["The current password is wrong."]})
    try:
        _password_set(user=user, password=new_password, action="auth.password_changed")
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc


def auth_password_reset_request(*, email: str) -> None:
    """Always succeeds from the caller's point of view (no account enumeration); emails members only."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None or not Membership.objects.filter(user_id=user.pk, is_active=True).exists():
        audit_record(
            action="auth.password_reset_requested", changes={"identifier_hash": _identifier_hash(email), "sent": False}
        )
        return
    audit_record(
        action="auth.password_reset_requested",
        actor_id=user.pk,
        target_type="user",
        target_id=user.pk,
        changes={"sent": True},
    )
    email_enqueue(kind="password_reset", object_id=user.pk)


def auth_password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Django's reset token: bound to the user's current password hash and login time, so it works once."""
    invalid = ValidationError({"token": ["This reset link is invalid, expired or already used."]})
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise invalid from exc
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise invalid
    try:
        _password_set(user=user, password=new_password, action="auth.password_reset")
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
