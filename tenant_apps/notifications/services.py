"""Outgoing email, sent by tasks on the ``notifications`` queue.

A message is named by its kind and the id of the row it is about; the task builds it (the builders
live with the feature, e.g. ``tenant_apps.members.emails``, registered in its AppConfig.ready).
Nothing secret is put in the queue."""

from __future__ import annotations

from django.db import transaction

from shared_apps.core import registry
from shared_apps.core.tenancy import current_schema


def email_enqueue(*, kind: str, object_id: int) -> None:
    """Send once the current transaction commits."""
    from tenant_apps.notifications.tasks import email_send

    registry.email_builder(kind)  # raises on an unknown kind (apps register theirs in AppConfig.ready)
    schema = current_schema()
    transaction.on_commit(lambda: email_send.delay(schema_name=schema, kind=kind, object_id=object_id))
