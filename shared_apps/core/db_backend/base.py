"""django-tenants' backend, plus the row-level-security tenant setting.

Every time django-tenants issues ``SET search_path`` for a tenant switch, this backend sets
``app.tenant`` to the same schema name in the same statement. Each tenant table's RLS policy
admits a row only when ``app.tenant`` names that table's own schema (see
``shared_apps.core.rls``), so a query that reaches another tenant's schema, by a schema-qualified
name or a wrong search_path, sees no rows and cannot write.
"""

from __future__ import annotations

from typing import Any

import django.db.utils
import psycopg
from django_tenants.postgresql_backend import base as tenants_base

from shared_apps.core.rls import TENANT_SETTING

DatabaseError = tenants_base.DatabaseError
IntegrityError = tenants_base.IntegrityError


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    _setting_search_path: bool
    search_path_set_schemas: list[str] | None
    schema_name: str

    def _handle_search_path(self, cursor: Any = None) -> None:
        if self._setting_search_path:
            return
        if tenants_base.get_limit_set_calls() and self.search_path_set_schemas:
            return
        search_paths = self._get_cursor_search_paths()
        self._setting_search_path = True
        own_cursor = cursor is None
        cur = self.connection.cursor() if own_cursor else cursor
        try:
            cur.execute(
                "SELECT set_config('search_path', %s, false), set_config(%s, %s, false)",
                [",".join(tenants_base.quote_schema_name(s) for s in search_paths), TENANT_SETTING, self.schema_name],
            )
        except (django.db.utils.DatabaseError, psycopg.InternalError):
            # In an aborted transaction: the next statement fails anyway, or is a rollback.
            self.search_path_set_schemas = None
        else:
            self.search_path_set_schemas = search_paths
        finally:
            self._setting_search_path = False
            if own_cursor:
                cur.close()
