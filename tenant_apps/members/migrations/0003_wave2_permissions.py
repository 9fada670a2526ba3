"""Re-seed the built-in roles with the permissions added in wave 2 (personal data, distribution,
webhooks, privacy requests): admins get every permission; custom roles are left as they are."""

from django.db import migrations

from tenant_apps.members.permissions import BUILTIN_ROLES


def seed(apps, schema_editor):
    Role = apps.get_model("members", "Role")
    for slug, (name, permissions) in BUILTIN_ROLES.items():
        Role.objects.update_or_create(
            slug=slug, defaults={"name": name, "permissions": list(permissions), "is_builtin": True}
        )


class Migration(migrations.Migration):
    dependencies = [("members", "0002_builtin_roles")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
