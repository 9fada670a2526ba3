"""Typed access to the tenant-aware connection (django-tenants adds attributes Django's stubs lack)."""

from __future__ import annotations

from typing import cast

from django.db import connection

from shared_apps.core.db_backend.base import DatabaseWrapper


def tenant_connection() -> DatabaseWrapper:
    return cast(DatabaseWrapper, connection)


def current_schema() -> str:
    return str(tenant_connection().schema_name)
