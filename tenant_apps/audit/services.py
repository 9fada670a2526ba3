"""Recording audit entries. Every privileged action calls ``audit_record`` inside the tenant's context."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from shared_apps.core.context import actor_var, request_id_var
from tenant_apps.audit.chain import chain_next, entry_hash
from tenant_apps.audit.models import AuditEvent

# Keys whose values never reach the audit log (secrets and personal data).
REDACTED_KEYS = frozenset(
    {
        "password",
        "token",
        "secret",
        "secret_hash",
        "refresh",
        "access",
        "email",
        "full_name",
        "name_of_person",
        "ip",
        "phone",
    }
)
REDACTED = "[redacted]"
# Set when an entry is recorded in the current request (the API base records a generic one otherwise).
_recorded: ContextVar[bool] = ContextVar("audit_recorded", default=False)


def redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: REDACTED if str(key).lower() in REDACTED_KEYS else redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def audit_record(
    *,
    action: str,
    target_type: str = "",
    target_id: object = "",
    changes: Mapping[str, Any] | None = None,
    actor_id: int | None = None,
) -> AuditEvent:
    """Append one entry for the current tenant. Who/where/how come from the current Actor context
    (set by the API authentication, the CLI or the task base); ``actor_id`` overrides the user."""
    actor = actor_var.get()
    if actor_id is not None:
        actor = actor.with_user(actor_id)
    _recorded.set(True)
    fields: dict[str, Any] = {
        "occurred_at": timezone.now(),
        "actor_id": actor.user_id,
        "actor_kind": actor.kind,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id or "")[:64],
        # Round-tripped through JSON so the hash covers exactly what the jsonb column will give back.
        "changes": json.loads(json.dumps(redact(dict(changes or {})), cls=DjangoJSONEncoder)),
        "ip": actor.ip,
        "user_agent": actor.user_agent[:300],
        "request_id": request_id_var.get().strip("-")[:64],
        "channel": actor.channel,
    }
    # The chain lock lives until the surrounding transaction ends; no savepoint of our own.
    with transaction.atomic(savepoint=False):
        schema_name: str = getattr(connection, "schema_name", "public")
        new_id, seq, prev = chain_next(schema_name=schema_name, occurred_at=fields["occurred_at"])
        digest = entry_hash(prev_hash=prev, chain_seq=seq, entry={"id": new_id, **fields})
        return AuditEvent.objects.create(id=new_id, chain_seq=seq, prev_hash=prev, entry_hash=digest, **fields)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """A before/after summary of the fields that changed."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {"before": {key: before.get(key) for key in keys}, "after": {key: after.get(key) for key in keys}}


def audit_recorded() -> bool:
    return _recorded.get()


def audit_reset() -> None:
    _recorded.set(False)
