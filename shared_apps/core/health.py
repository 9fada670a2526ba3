"""Liveness and readiness. Readiness checks PostgreSQL and Redis and answers 503 when one is down.

``is_unavailable`` tells the error handlers which exceptions mean "a backing service is down or
restarting" (answered 503 ``service_unavailable`` with ``Retry-After``) rather than a bug (500).
"""

from __future__ import annotations

import time

import redis
from django.db import InterfaceError, OperationalError, connection
from django_redis import get_redis_connection
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as BrokerError

from shared_apps.core.replica import replica_status

# PostgreSQL unreachable, restarting or the connection cut (psycopg's OperationalError/InterfaceError as
# Django wraps them); Redis unreachable or timing out (directly, or wrapped by the django-redis cache);
# a Redis replica promoted away from (READONLY after a failover), or still loading its data set;
# the Celery broker unreachable when a task is sent.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.BusyLoadingError,
    ConnectionInterrupted,
    BrokerError,
)
RETRY_AFTER_SECONDS = 5


def is_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what it was raised from) says a backing service is down."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, UNAVAILABLE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def check_postgres() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        connection.close()
        return f"{type(exc).__name__}: {str(exc).strip()[:200]}"
    return None


def check_redis() -> str | None:
    try:
        get_redis_connection("default").ping()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc).strip()[:200]}"
    return None


def readiness() -> tuple[bool, dict[str, dict[str, object]]]:
    """PostgreSQL and Redis decide readiness; the read replica is reported (lag, or down) but does not, because
    analytics reads fall back to the primary."""
    checks: dict[str, dict[str, object]] = {}
    for name, check in (("postgres", check_postgres), ("redis", check_redis)):
        started = time.perf_counter()
        error = check()
        checks[name] = {"ok": error is None, "ms": round((time.perf_counter() - started) * 1000, 2)}
        if error:
            checks[name]["error"] = error
    ready = all(c["ok"] for c in checks.values())
    checks["replica"] = replica_status()
    return ready, checks
