from __future__ import annotations

from shared_apps.accounts.models import User
from tenant_apps.members.models import Membership


def membership_ensure(*, user: User, role: str) -> Membership:
    """Call inside the tenant's context."""
    membership, _ = Membership.objects.update_or_create(user=user, defaults={"role": role, "is_active": True})
    return membership
