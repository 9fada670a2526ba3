from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from shared_apps.core.registry import SeedContext


class MembersConfig(AppConfig):
    name = "tenant_apps.members"
    label = "members"

    def ready(self) -> None:
        from shared_apps.core import registry

        # Built-in roles come with the template schema (migration 0002); the signup's admin joins as Admin.
        registry.register_seeder(name="members.admin_membership", seed=_seed_admin, order=10)
        registry.register_email_builder(kind="invitation", builder="tenant_apps.members.emails.invitation_email")
        registry.register_email_builder(
            kind="password_reset", builder="tenant_apps.members.emails.password_reset_email"
        )


def _seed_admin(context: SeedContext) -> None:
    from tenant_apps.members.permissions import ADMIN_ROLE
    from tenant_apps.members.services import membership_ensure

    if context.admin is not None:
        membership_ensure(user=context.admin, role_slug=ADMIN_ROLE)
