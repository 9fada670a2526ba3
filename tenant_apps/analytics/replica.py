"""Analytics reads go to the ``replica`` database alias while it is up and at most
``ANALYTICS_REPLICA_MAX_LAG`` seconds behind; else to the primary. ``ReplicaRouter`` routes the analytics
models' ORM reads; ``read_connection()`` gives the raw SQL of the selectors the same connection, switched to
the current tenant (search path and RLS setting).

Without ``DATABASE_REPLICA_URL`` the alias points at the primary's database, so the code path is the same
everywhere. The health check (lag in seconds, or down) lives in ``shared_apps.core.replica``: ``/readyz``
reports it too.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from shared_apps.core.replica import ALIAS, replica_usable


def read_connection() -> BaseDatabaseWrapper:
    """The connection analytics reads use now: the replica switched to this tenant, or the primary."""
    if not replica_usable():
        return connection
    replica = connections[ALIAS]
    tenant = getattr(connection, "tenant", None)
    if tenant is not None and getattr(replica, "tenant", None) != tenant:
        replica.set_tenant(tenant)  # type: ignore[attr-defined]
    return replica


class ReplicaRouter:
    """Reads of the analytics models go to the replica when it is usable; nothing else changes."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if model._meta.app_label == "analytics":  # type: ignore[attr-defined]
            return read_connection().alias
        return None
