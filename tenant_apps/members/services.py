"""Roles, memberships and invitations. Call inside the tenant's context; each change is audited and
invalidates cached permissions in every process."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from billing.limits import limit_enforce
from shared_apps.accounts.models import User
from shared_apps.core.errors import DomainError
from shared_apps.core.tenancy import current_schema
from tenant_apps.audit.services import audit_record, diff
from tenant_apps.members import tokens
from tenant_apps.members.access import principals_invalidate
from tenant_apps.members.models import Invitation, Membership, Role
from tenant_apps.members.permissions import ADMIN_ROLE, ALL_PERMISSIONS


class MembershipError(DomainError):
    """A change refused for a reason the caller can act on (e.g. the last admin)."""

    code = "membership_refused"


# --- roles ----------------------------------------------------------------------------------


def _validate_permissions(permissions: list[str]) -> list[str]:
    unknown = sorted(set(permissions) - ALL_PERMISSIONS)
    if unknown:
        raise ValidationError({"permissions": [f"Unknown permission(s): {', '.join(unknown)}."]})
    return sorted(set(permissions))


def role_create(*, name: str, permissions: list[str], description: str = "") -> Role:
    perms = _validate_permissions(permissions)
    slug = slugify(name).replace("-", "_")[:50]
    if not slug:
        raise ValidationError({"name": ["A role name needs at least one letter or digit."]})
    if Role.objects.filter(slug=slug).exists() or Role.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": [f"A role named {name!r} exists."]})
    with transaction.atomic():
        role = Role.objects.create(slug=slug, name=name, description=description, permissions=perms)
        audit_record(
            action="role.created",
            target_type="role",
            target_id=role.pk,
            changes={"after": {"name": name, "permissions": perms}},
        )
    return role


def role_update(
    *, role: Role, name: str | None = None, permissions: list[str] | None = None, description: str | None = None
) -> Role:
    if role.is_builtin:
        raise MembershipError(f"The built-in role {role.name!r} cannot be changed; create a custom role.")
    before = {"name": role.name, "permissions": list(role.permissions), "description": role.description}
    if name is not None and name != role.name:
        if Role.objects.filter(name__iexact=name).exclude(pk=role.pk).exists():
            raise ValidationError({"name": [f"A role named {name!r} exists."]})
        role.name = name
    if permissions is not None:
        role.permissions = _validate_permissions(permissions)
    if description is not None:
        role.description = description
    with transaction.atomic():
        role.save()
        after = {"name": role.name, "permissions": list(role.permissions), "description": role.description}
        audit_record(action="role.updated", target_type="role", target_id=role.pk, changes=diff(before, after))
        principals_invalidate()
    return role


def role_delete(*, role: Role) -> None:
    if role.is_builtin:
        raise MembershipError(f"The built-in role {role.name!r} cannot be deleted.")
    if role.memberships.exists():
        raise MembershipError(
            f"Role {role.name!r} is held by {role.memberships.count()} member(s); reassign them first."
        )
    with transaction.atomic():
        audit_record(
            action="role.deleted",
            target_type="role",
            target_id=role.pk,
            changes={"before": {"name": role.name, "permissions": list(role.permissions)}},
        )
        role.delete()


# --- memberships ------------------------------------------------------------------------------


def _active_admins() -> int:
    return Membership.objects.filter(role__slug=ADMIN_ROLE, is_active=True).count()


def _would_leave_no_admin(membership: Membership) -> bool:
    is_active_admin = membership.is_active and membership.role.slug == ADMIN_ROLE
    return is_active_admin and _active_admins() <= 1


def membership_ensure(*, user: User, role_slug: str, invited_by_id: int | None = None) -> Membership:
    """Give ``user`` the role (creating or re-activating the membership)."""
    role = Role.objects.get(slug=role_slug)
    with transaction.atomic():
        membership, created = Membership.objects.update_or_create(
            user=user, defaults={"role": role, "is_active": True, "invited_by_id": invited_by_id}
        )
        audit_record(
            action="member.added" if created else "member.reactivated",
            target_type="membership",
            target_id=membership.pk,
            changes={"after": {"user_id": user.pk, "role": role.slug}},
        )
        principals_invalidate(user_id=user.pk)
    return membership


def membership_update(*, membership: Membership, role: Role | None = None, is_active: bool | None = None) -> Membership:
    before = {"role": membership.role.slug, "is_active": membership.is_active}
    with transaction.atomic():
        membership = Membership.objects.select_for_update(of=("self",)).select_related("role").get(pk=membership.pk)
        # Serialise admin changes so two concurrent demotions cannot both pass the last-admin check.
        list(Membership.objects.select_for_update().filter(role__slug=ADMIN_ROLE, is_active=True))
        losing_admin = (role is not None and role.slug != ADMIN_ROLE) or is_active is False
        if losing_admin and _would_leave_no_admin(membership):
            raise MembershipError("This is the organisation's last active Admin: make someone else Admin first.")
        if role is not None:
            membership.role = role
        if is_active is not None:
            membership.is_active = is_active
        membership.save(update_fields=["role", "is_active", "updated_at"])
        after = {"role": membership.role.slug, "is_active": membership.is_active}
        audit_record(
            action="member.updated", target_type="membership", target_id=membership.pk, changes=diff(before, after)
        )
        principals_invalidate(user_id=membership.user_id)
        if is_active is False:
            schema = current_schema()
            transaction.on_commit(lambda: _revoke_and_audit(membership.user_id, schema, "deactivated"))
    return membership


def membership_remove(*, membership: Membership) -> None:
    with transaction.atomic():
        membership = Membership.objects.select_for_update(of=("self",)).select_related("role").get(pk=membership.pk)
        list(Membership.objects.select_for_update().filter(role__slug=ADMIN_ROLE, is_active=True))
        if _would_leave_no_admin(membership):
            raise MembershipError("This is the organisation's last active Admin and cannot be removed.")
        user_id = membership.user_id
        audit_record(
            action="member.removed",
            target_type="membership",
            target_id=membership.pk,
            changes={"before": {"user_id": user_id, "role": membership.role.slug}},
        )
        membership.delete()
        principals_invalidate(user_id=user_id)
        schema = current_schema()
        transaction.on_commit(lambda: _revoke_and_audit(user_id, schema, "removed"))


def _revoke_and_audit(user_id: int, schema: str, reason: str) -> None:
    revoked = tokens.tokens_revoke_user(user_id=user_id, schema=schema)
    audit_record(
        action="auth.tokens_revoked",
        target_type="user",
        target_id=user_id,
        changes={"reason": reason, "sessions": revoked},
    )


# --- invitations ------------------------------------------------------------------------------

_INVITE_SALT = "members.invitation"


def invitation_token(invitation: Invitation) -> str:
    """The link's token: tenant, invitation and nonce, signed and timestamped (expiry)."""
    return signing.dumps({"t": current_schema(), "i": invitation.pk, "n": invitation.nonce}, salt=_INVITE_SALT)


def invitation_create(*, email: str, role: Role, invited_by_id: int | None) -> Invitation:
    """A signed, expiring, single-use invitation, emailed by a task on the ``notifications`` queue
    (which rebuilds the link: no secret travels through the broker)."""
    from tenant_apps.notifications.services import email_enqueue

    email = email.strip().lower()
    if Membership.objects.filter(user__email__iexact=email).exists():
        raise ValidationError({"email": ["This person is already a member."]})
    with transaction.atomic():
        Invitation.objects.filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        invitation = Invitation.objects.create(
            email=email,
            role=role,
            nonce=secrets.token_urlsafe(24),
            invited_by_id=invited_by_id,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
        )
        audit_record(
            action="invitation.created",
            target_type="invitation",
            target_id=invitation.pk,
            changes={"after": {"role": role.slug, "expires_at": invitation.expires_at.isoformat()}},
        )
        email_enqueue(kind="invitation", object_id=invitation.pk)
    return invitation


def invitation_revoke(*, invitation: Invitation) -> None:
    if invitation.accepted_at or invitation.revoked_at:
        raise MembershipError("This invitation was already used or revoked.")
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(action="invitation.revoked", target_type="invitation", target_id=invitation.pk)


def invitation_accept(*, token: str, password: str | None, full_name: str = "") -> Membership:
    """Accept with the token from the link. A new account sets its password here; an existing account
    keeps its own. Fails the same way for forged, expired, used, revoked or other-tenant tokens."""
    invalid = ValidationError({"token": ["This invitation link is invalid, expired or already used."]})
    try:
        data = signing.loads(token, salt=_INVITE_SALT, max_age=timedelta(days=settings.INVITATION_DAYS))
    except signing.BadSignature as exc:
        raise invalid from exc
    if data.get("t") != current_schema():
        raise invalid
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",)).select_related("role").filter(pk=data.get("i")).first()
        )
        if (
            invitation is None
            or invitation.accepted_at
            or invitation.revoked_at
            or invitation.expires_at < timezone.now()
            or not secrets.compare_digest(invitation.nonce, str(data.get("n", "")))
        ):
            raise invalid
        staff = Membership.objects.filter(is_active=True).exclude(role__slug="respondent")
        if invitation.role.slug != "respondent" and not staff.filter(user__email__iexact=invitation.email).exists():
            # A new seat: exact under concurrent acceptances (the billing account row is locked meanwhile).
            limit_enforce(schema_name=current_schema(), limit="seats", count=staff.count)
        user = User.objects.filter(email__iexact=invitation.email).first()
        if user is None:
            if not password:
                raise ValidationError({"password": ["Choose a password for your new account."]})
            validate_password(password, user=User(email=invitation.email))
            user = User.objects.create_user(invitation.email, password, full_name=full_name)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        membership = membership_ensure(
            user=user, role_slug=invitation.role.slug, invited_by_id=invitation.invited_by_id
        )
        audit_record(action="invitation.accepted", target_type="invitation", target_id=invitation.pk, actor_id=user.pk)
    return membership
