"""Seed the built-in roles. Runs in the template schema; every tenant cloned from it has them."""

from django.db import migrations

from tenant_apps.members.permissions import BUILTIN_ROLES


def seed(apps, schema_editor):
    Role = apps.get_model("members", "Role")
    for slug, (name, permissions) in BUILTIN_ROLES.items():
        Role.objects.update_or_create(
            slug=slug, defaults={"name": name, "permissions": list(permissions), "is_builtin": True}
        )


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
