"""What every tenant service shares: the error, URLs, slug rules, the owner connection, and recording
a platform action in an organisation's own audit log."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.core import registry
from shared_apps.core.errors import DomainError
from shared_apps.tenants.cache import tenants_invalidate
from shared_apps.tenants.models import RESERVED_SLUGS, SLUG_RE, Organisation

logger = logging.getLogger(__name__)
Status = Organisation.Status
Kind = Organisation.Kind
OWNER_DB = "owner"


class TenantError(DomainError):
    """A tenant operation that cannot be done, with a message for the operator or user."""

    code = "tenant_refused"


def tenant_domain(slug: str) -> str:
    return f"{slug}.{settings.PLATFORM_DOMAIN}"


def _origin(host: str) -> str:
    port = settings.PLATFORM_PORT
    default_port = {"http": "80", "https": "443"}.get(settings.PLATFORM_SCHEME)
    suffix = f":{port}" if port and port != default_port else ""
    return f"{settings.PLATFORM_SCHEME}://{host}{suffix}/"


def tenant_url(organisation: Organisation) -> str:
    return _origin(tenant_domain(organisation.slug))


def platform_url() -> str:
    """The platform host's own URL (signup, verification links)."""
    return _origin(settings.PLATFORM_DOMAIN)


def slug_validate(slug: str) -> None:
    """Raises ValidationError with a message a person can act on."""
    if not SLUG_RE.match(slug):
        raise ValidationError(
            "A subdomain is 3 to 40 characters: lowercase letters, digits and hyphens, "
            "starting with a letter and not ending with a hyphen.",
            code="invalid_slug",
        )
    if "--" in slug:
        raise ValidationError("A subdomain may not contain two hyphens in a row.", code="invalid_slug")
    if slug in RESERVED_SLUGS or slug.startswith(("pg-", "xn--")):
        raise ValidationError(f"The subdomain {slug!r} is reserved.", code="reserved_slug")


def slug_is_taken(slug: str) -> bool:
    return Organisation.objects.filter(slug=slug).exclude(status=Status.FAILED).exists()


@contextmanager
def owner_cursor() -> Iterator[Any]:
    """A raw psycopg cursor on the owner role, in a transaction. The connection is closed
    afterwards: DDL is rare, and an idle owner connection must not linger in web or worker
    processes (nor be inherited by forked migration workers)."""
    owner = connections[OWNER_DB]
    try:
        with transaction.atomic(using=OWNER_DB), owner.cursor() as cursor:
            yield cursor.cursor
    finally:
        owner.close()


def signup_expiry_cutoff() -> dt.datetime:
    """Unverified signups created before this have expired (their links no longer work)."""
    return timezone.now() - dt.timedelta(hours=settings.SIGNUP_VERIFICATION_HOURS)


def customer_get(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug, kind=Kind.CUSTOMER).first()
    if organisation is None:
        raise TenantError(f"No organisation with the subdomain {slug!r}.")
    return organisation


def audit_in_tenant(organisation: Organisation, action: str, changes: dict[str, Any]) -> None:
    """Record a platform action on an organisation in that organisation's own audit log (through the
    registered audit recorder), and drop the cached organisations in every process: every caller
    changed one."""
    tenants_invalidate()
    with tenant_context(organisation):
        registry.audit(action=action, target_type="organisation", target_id=organisation.slug, changes=changes)
