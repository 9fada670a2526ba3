"""Lifecycle of an organisation after provisioning: suspend, resume, update, delete (soft, hard), purge."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from shared_apps.core import registry
from shared_apps.tenants.cache import tenants_invalidate
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services.base import Kind, Status, TenantError, audit_in_tenant, customer_get
from shared_apps.tenants.services.provisioning import _schema_drop

logger = logging.getLogger(__name__)


def tenant_suspend(*, slug: str, reason: str = "") -> Organisation:
    organisation = customer_get(slug)
    if organisation.status != Status.ACTIVE:
        raise TenantError(f"Organisation {slug!r} is {organisation.status}; only an active one can be suspended.")
    organisation.status = Status.SUSPENDED
    organisation.status_reason = reason[:500]
    organisation.suspended_at = timezone.now()
    organisation.save(update_fields=["status", "status_reason", "suspended_at", "updated_at"])
    audit_in_tenant(organisation, "tenant.suspended", {"reason": reason[:200]})
    logger.info("tenant suspended", extra={"tenant": organisation.schema_name})
    return organisation


def tenant_resume(*, slug: str) -> Organisation:
    organisation = customer_get(slug)
    if organisation.status != Status.SUSPENDED:
        raise TenantError(f"Organisation {slug!r} is {organisation.status}; only a suspended one can be resumed.")
    organisation.status = Status.ACTIVE
    organisation.status_reason = ""
    organisation.suspended_at = None
    organisation.save(update_fields=["status", "status_reason", "suspended_at", "updated_at"])
    audit_in_tenant(organisation, "tenant.resumed", {})
    logger.info("tenant resumed", extra={"tenant": organisation.schema_name})
    return organisation


def tenant_update(*, slug: str, **changes: str) -> Organisation:
    """Change name, plan, rate limits, the days soft-deleted responses are kept or the time zone of reports.
    Validates every field before saving any."""
    allowed = {"name", "plan", "rate_limit_user", "rate_limit_anon", "deleted_retention_days", "timezone"}
    if set(changes) - allowed:
        raise TenantError(f"Cannot change {sorted(set(changes) - allowed)}.")
    organisation = customer_get(slug)
    before = {key: getattr(organisation, key) for key in changes}
    for key, value in changes.items():
        setattr(organisation, key, value.strip())
    organisation.full_clean(exclude=["schema_name", "slug", "created_by", "public_id"])
    organisation.save(update_fields=[*changes, "updated_at"])
    audit_in_tenant(organisation, "tenant.updated", {"before": before, "after": changes})
    return organisation


def tenant_soft_delete(*, slug: str) -> Organisation:
    """Mark for deletion: the organisation stops answering at once, and its schema is purged
    after TENANT_PURGE_GRACE_DAYS by the beat task (or at once with tenant_hard_delete)."""
    organisation = customer_get(slug)
    if organisation.status == Status.PENDING_DELETION:
        raise TenantError(
            f"Organisation {slug!r} is already scheduled for purge at {organisation.purge_after:%Y-%m-%d %H:%M} UTC."
        )
    now = timezone.now()
    organisation.status = Status.PENDING_DELETION
    organisation.deleted_at = now
    organisation.purge_after = now + timedelta(days=settings.TENANT_PURGE_GRACE_DAYS)
    organisation.save(update_fields=["status", "deleted_at", "purge_after", "updated_at"])
    audit_in_tenant(organisation, "tenant.deleted", {"purge_after": organisation.purge_after.isoformat()})
    logger.info("tenant scheduled for purge", extra={"tenant": organisation.schema_name})
    return organisation


def tenant_hard_delete(*, slug: str) -> str:
    """Drop the schema and the organisation's rows. Irreversible. Returns the dropped schema."""
    organisation = customer_get(slug)
    schema_name = organisation.schema_name
    for _name, teardown in registry.teardowns():  # e.g. destroy the tenant's key (crypto-shredding)
        teardown(schema_name)
    _schema_drop(schema_name=schema_name)
    organisation.delete()  # domains cascade; auto_drop_schema is off, the schema is already gone
    tenants_invalidate()
    logger.warning("tenant purged", extra={"tenant": schema_name})
    return schema_name


def tenant_purge_due() -> list[str]:
    """Purge every organisation whose grace period has passed. Run by beat."""
    due = Organisation.objects.filter(
        kind=Kind.CUSTOMER, status=Status.PENDING_DELETION, purge_after__lte=timezone.now()
    ).values_list("slug", flat=True)
    return [tenant_hard_delete(slug=slug) for slug in list(due)]
