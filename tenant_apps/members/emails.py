"""Email builders for the notifications task: (to, subject, body) or None when no longer needed."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.tokens import default_token_generator
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from shared_apps.accounts.models import User
from shared_apps.core.tenancy import tenant_connection
from shared_apps.tenants.services import tenant_url
from tenant_apps.members.models import Invitation


def _org_url_and_name() -> tuple[str, str]:
    organisation = tenant_connection().tenant
    return tenant_url(organisation), organisation.name


def invitation_email(invitation_id: int) -> tuple[str, str, str] | None:
    from tenant_apps.members.services import invitation_token

    invitation = Invitation.objects.select_related("role").filter(pk=invitation_id).first()
    if invitation is None or invitation.accepted_at or invitation.revoked_at or invitation.expires_at < timezone.now():
        return None
    url, name = _org_url_and_name()
    link = f"{url}invitations/accept?{urlencode({'token': invitation_token(invitation)})}"
    body = (
        f"You have been invited to join {name} as {invitation.role.name}.\n\n"
        f"Accept the invitation: {link}\n\n"
        f"The link works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC.\n"
    )
    return invitation.email, f"Invitation to join {name}", body


def password_reset_email(user_id: int) -> tuple[str, str, str] | None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    url, name = _org_url_and_name()
    query = urlencode(
        {"uid": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)}
    )
    body = (
        f"Someone asked to reset the password of your account at {name}.\n\n"
        f"Choose a new password: {url}password-reset?{query}\n\n"
        "The link works once and expires in an hour. If you did not ask, ignore this email.\n"
    )
    return user.email, f"Reset your password for {name}", body
