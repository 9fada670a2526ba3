"""Liveness and readiness. Readiness checks PostgreSQL and Redis and answers 503 when one is down."""

from __future__ import annotations

import time

from django.db import connection
from django_redis import get_redis_connection


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
    checks: dict[str, dict[str, object]] = {}
    for name, check in (("postgres", check_postgres), ("redis", check_redis)):
        started = time.perf_counter()
        error = check()
        checks[name] = {"ok": error is None, "ms": round((time.perf_counter() - started) * 1000, 2)}
        if error:
            checks[name]["error"] = error
    return all(c["ok"] for c in checks.values()), checks
