"""Host -> organisation, cached in each process (the tenant lookup would otherwise be a query on every
request). Any change to an organisation drops every entry in every process (Redis pub/sub)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from shared_apps.core.cache import TenantCache
from shared_apps.tenants.models import Organisation

HOSTS: TenantCache[Organisation] = TenantCache("host", l1_seconds=settings.TENANT_CACHE_SECONDS)
_SCHEMA = "public"


def organisation_for_host(hostname: str, load: Callable[[], Organisation | None]) -> Organisation | None:
    return HOSTS.get(_SCHEMA, hostname, load=load)


def tenants_invalidate() -> None:
    """Once the current transaction commits: organisations are few and change rarely, so drop them all."""
    HOSTS.invalidate(_SCHEMA)
