"""Outgoing email, sent by tasks on the ``notifications`` queue.

A message is named by its kind and the id of the row it is about; the task builds it (the builders
live with the feature, e.g. ``tenant_apps.members.emails``). Nothing secret is put in the queue."""

from __future__ import annotations

from django.db import transaction

from shared_apps.core.tenancy import current_schema

EMAIL_BUILDERS: dict[str, str] = {
    "invitation": "tenant_apps.members.emails.invitation_email",
    "password_reset": "tenant_apps.members.emails.password_reset_email",
    "submission": "tenant_apps.responses.emails.submission_email",
}


def email_enqueue(*, kind: str, object_id: int) -> None:
    """Send once the current transaction commits."""
    from tenant_apps.notifications.tasks import email_send

    if kind not in EMAIL_BUILDERS:
        raise ValueError(f"Unknown email kind {kind!r}")
    schema = current_schema()
    transaction.on_commit(lambda: email_send.delay(schema_name=schema, kind=kind, object_id=object_id))
