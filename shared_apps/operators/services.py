"""Recording what operators do: the platform log (``OperatorEvent``) and, where an organisation is concerned,
that organisation's own audit log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from shared_apps.core.context import Actor, actor_var, request_id_var
from shared_apps.core.http import client_ip
from shared_apps.operators.models import OperatorEvent
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services.base import audit_in_tenant

ADMIN_CHANNEL = "admin"


def on_platform_host(request: HttpRequest | None) -> bool:
    """True for a request the tenant middleware resolved to the platform (public schema)."""
    tenant = getattr(request, "tenant", None)
    return tenant is not None and tenant.schema_name == get_public_schema_name()


def identifier_hash(value: str) -> str:
    """Failed sign-ins are logged without the e-mail address typed in."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:16]


@contextmanager
def operator_actor(request: HttpRequest) -> Iterator[None]:
    """Inside an admin view: audit entries written by services (e.g. ``tenant_suspend``) name the operator."""
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    token = actor_var.set(
        Actor(
            user_id=user_id,
            kind="user" if user_id else "anonymous",
            channel=ADMIN_CHANNEL,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
    )
    try:
        yield
    finally:
        actor_var.reset(token)


def operator_event_record(
    *,
    request: HttpRequest,
    action: str,
    user: Any = None,
    target_type: str = "",
    target_id: object = "",
    organisation: Organisation | None = None,
    changes: dict[str, Any] | None = None,
    tenant_audit: bool = False,
) -> OperatorEvent:
    """Append one entry to the platform log. ``tenant_audit``: also record ``operator.<action>`` in the
    organisation's audit log (for actions whose service does not record one itself)."""
    if user is None:
        user = getattr(request, "user", None)
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    event = OperatorEvent.objects.create(
        occurred_at=timezone.now(),
        actor_id=user.pk if authenticated else None,
        actor_email=user.email if authenticated else "",
        action=action,
        target_type=target_type,
        target_id=str(target_id or "")[:64],
        organisation=organisation.slug if organisation is not None else "",
        changes=changes or {},
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:300],
        request_id=request_id_var.get().strip("-")[:64],
    )
    if tenant_audit and organisation is not None and organisation.is_customer:
        with operator_actor(request):
            audit_in_tenant(organisation, f"operator.{action}", changes or {})
    return event
