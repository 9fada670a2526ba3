"""Analytics reads go to the ``replica`` database alias while it is up and at most ``MAX_LAG`` behind; else to
the primary. ``ReplicaRouter`` routes the analytics models' ORM reads; ``read_connection()`` gives the raw
SQL of the selectors the same connection, switched to the current tenant (search path and RLS setting).

Without ``DATABASE_REPLICA_URL`` the alias points at the primary's database (development and tests), so the
code path is the same everywhere. The health check (lag in seconds, or down) is cached for a few seconds
per process.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import DatabaseError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

ALIAS = "replica"
MAX_LAG = 10.0
CHECK_EVERY = 5.0
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
END
"""

_state: dict[str, Any] = {"checked": 0.0, "lag": None}
_lock = threading.Lock()


def replica_lag(*, refresh: bool = False) -> float | None:
    """Seconds the replica is behind (0 when it is the primary's database), ``None`` when it is down."""
    if ALIAS not in connections:
        return None
    with _lock:
        if not refresh and time.monotonic() - _state["checked"] < CHECK_EVERY:
            return _state["lag"]
        try:
            with connections[ALIAS].cursor() as cursor:
                cursor.execute(LAG_SQL)
                lag: float | None = float(cursor.fetchone()[0])
        except DatabaseError:
            logger.warning("analytics replica unavailable; reading from the primary")
            connections[ALIAS].close()
            lag = None
        _state.update(checked=time.monotonic(), lag=lag)
        return lag


def replica_usable() -> bool:
    lag = replica_lag()
    return lag is not None and lag <= MAX_LAG


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
