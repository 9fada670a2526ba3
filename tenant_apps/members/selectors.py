"""Reads of the members app: memberships, open invitations, roles (the current tenant's)."""

from __future__ import annotations

from django.db.models import QuerySet

from tenant_apps.members.models import Invitation, Membership, Role


def membership_list() -> QuerySet[Membership]:
    """Every membership with its user and role (one query per page)."""
    return Membership.objects.select_related("user", "role")


def membership_get(*, membership_id: int) -> Membership | None:
    return membership_list().filter(pk=membership_id).first()


def invitation_open_list(*, limit: int = 200) -> QuerySet[Invitation]:
    """Invitations neither accepted nor revoked, newest first."""
    return (
        Invitation.objects.select_related("role")
        .filter(accepted_at__isnull=True, revoked_at__isnull=True)
        .order_by("-created_at")[:limit]
    )


def role_list() -> QuerySet[Role]:
    return Role.objects.order_by("pk")


def role_by_slug(*, slug: str) -> Role | None:
    return Role.objects.filter(slug=slug).first()
