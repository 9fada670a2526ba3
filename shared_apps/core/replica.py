"""The read replica's health: how far it is behind the primary, or whether it is down.

Analytics reads go to the ``replica`` alias while it answers and lags at most ``ANALYTICS_REPLICA_MAX_LAG``
seconds, else to the primary (``tenant_apps.analytics.replica``); ``/readyz`` reports the same figures. The
check is cached for ``CHECK_EVERY`` seconds per process, so a busy dashboard does not ask on every request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

ALIAS = "replica"
CHECK_EVERY = 5.0
# 0 on the primary (no replica configured); else the age of the last replayed transaction, unless the
# replica has replayed everything it received (an idle primary is not a lagging replica).
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
END
"""

_state: dict[str, Any] = {"checked": 0.0, "lag": None}
_lock = threading.Lock()


def max_lag() -> float:
    return float(getattr(settings, "ANALYTICS_REPLICA_MAX_LAG", 10.0))


def replica_configured() -> bool:
    """True when the ``replica`` alias is a server of its own (``DATABASE_REPLICA_URL``)."""
    return bool(getattr(settings, "DATABASE_REPLICA_URL", ""))


def replica_lag(*, refresh: bool = False) -> float | None:
    """Seconds the replica is behind (0 when the alias is the primary's database), ``None`` when it is down."""
    if ALIAS not in connections:
        return None
    with _lock:
        if not refresh and time.monotonic() - _state["checked"] < CHECK_EVERY:
            return _state["lag"]
        try:
            with connections[ALIAS].cursor() as cursor:
                cursor.execute(LAG_SQL)
                lag: float | None = round(float(cursor.fetchone()[0]), 3)
        except DatabaseError:
            logger.warning("read replica unavailable; reading from the primary")
            connections[ALIAS].close()
            lag = None
        _state.update(checked=time.monotonic(), lag=lag)
        return lag


def replica_usable() -> bool:
    lag = replica_lag()
    return lag is not None and lag <= max_lag()


def replica_status() -> dict[str, object]:
    """For ``/readyz``: informational (reads fall back to the primary, so a lagging or stopped replica does not
    make the API unready)."""
    lag = replica_lag()
    usable = lag is not None and lag <= max_lag()
    return {
        "configured": replica_configured(),
        "up": lag is not None,
        "lag_seconds": lag,
        "max_lag_seconds": max_lag(),
        "analytics_reads_from": "replica" if usable and replica_configured() else "primary",
    }
