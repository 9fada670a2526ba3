"""Host -> organisation, cached in each process (the tenant lookup would otherwise be a query on every
request). Any change to an organisation drops every entry in every process (Redis pub/sub)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from shared_apps.core.cache_bus import InvalidatingLocalCache

TENANTS = InvalidatingLocalCache("invalidate:tenants", ttl_seconds=settings.TENANT_CACHE_SECONDS)


def tenants_invalidate() -> None:
    """Once the current transaction commits: organisations are few and change rarely, so drop them all."""
    transaction.on_commit(lambda: TENANTS.invalidate(""))
