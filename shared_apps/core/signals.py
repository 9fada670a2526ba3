"""After every migration of a schema: bootstrap the platform (public) or re-secure the tenant schema; a migrated
template makes every spare schema stale, so those are dropped (the refill job clones fresh ones)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django_tenants.signals import schema_migrated


@receiver(schema_migrated, dispatch_uid="core.schema_migrated")
def on_schema_migrated(sender: Any, schema_name: str, **kwargs: Any) -> None:
    from django.conf import settings

    from shared_apps.tenants.services import platform_bootstrap, schema_secure, spares_drop_stale

    if schema_name == "public":
        platform_bootstrap()
    else:
        schema_secure(schema_name=schema_name)
        if schema_name == settings.TENANT_TEMPLATE_SCHEMA:
            spares_drop_stale()
