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

        # Built-in roles come with the template schema (migration 0002); seeding re-asserts them from the
        # current catalogue (idempotent), then the new organisation's admin joins as Admin.
        registry.register_seeder(name="members.builtin_roles", seed=_seed_builtin_roles, order=5)
        registry.register_seeder(name="members.admin_membership", seed=_seed_admin, order=10)
        registry.register_email_builder(kind="invitation", builder="tenant_apps.members.emails.invitation_email")
        registry.register_email_builder(
            kind="password_reset", builder="tenant_apps.members.emails.password_reset_email"
        )


def _seed_builtin_roles(context: SeedContext) -> None:
    from tenant_apps.members.models import Role
    from tenant_apps.members.permissions import BUILTIN_ROLES

    for slug, (name, permissions) in BUILTIN_ROLES.items():
        Role.objects.update_or_create(
            slug=slug, defaults={"name": name, "permissions": list(permissions), "is_builtin": True}
        )


def _seed_admin(context: SeedContext) -> None:
    from tenant_apps.members.permissions import ADMIN_ROLE
    from tenant_apps.members.services import membership_ensure

    if context.admin is not None:
        membership_ensure(user=context.admin, role_slug=ADMIN_ROLE)
