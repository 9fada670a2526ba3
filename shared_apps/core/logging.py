from __future__ import annotations

import logging

from shared_apps.core.context import request_id_var, tenant_var


class ContextFilter(logging.Filter):
    """Adds ``tenant`` and ``request_id`` to every record (an explicit ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "tenant"):
            record.tenant = tenant_var.get()
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True
