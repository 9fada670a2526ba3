from __future__ import annotations

import logging
import random

from celery import current_app
from django.core.mail import EmailMessage

from shared_apps.accounts.models import User
from shared_apps.core import registry
from shared_apps.core.tasks import platform_task
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import (
    partitions_maintain,
    signup_verification_email,
    signups_purge_expired,
    spares_fill,
    tenant_provision,
    tenant_purge_due,
)

logger = logging.getLogger(__name__)


@platform_task(name="shared_apps.tenants.tasks.tenant_provision", soft_time_limit=120, time_limit=180)
def tenant_provision_task(*, organisation_id: int, admin_id: int | None) -> str:
    """Idempotent: an organisation that is no longer provisioning is left alone."""
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None or organisation.status != Organisation.Status.PROVISIONING:
        return organisation.status if organisation else "missing"
    admin = User.objects.filter(pk=admin_id).first() if admin_id else None
    try:
        tenant_provision(organisation=organisation, admin=admin)
    except Exception:  # noqa: BLE001 - recorded on the organisation; a deterministic failure is not retried
        return Organisation.Status.FAILED
    return Organisation.Status.ACTIVE


@platform_task(
    name="shared_apps.tenants.tasks.signup_verification_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=30,
    time_limit=45,
)
def signup_verification_email_task(*, organisation_id: int) -> bool:
    """Build (the signed link is made here, never put in the queue) and send the e-mail. False when
    the signup was verified, purged or expired meanwhile."""
    message = signup_verification_email(organisation_id=organisation_id)
    if message is None:
        return False
    to, subject, body = message
    EmailMessage(subject=subject, body=body, to=[to]).send()
    logger.info("signup verification e-mail sent", extra={"organisation_id": organisation_id})
    return True


@platform_task(name="shared_apps.tenants.tasks.signups_purge_expired", soft_time_limit=120, time_limit=180)
def signups_purge_expired_task() -> list[str]:
    return signups_purge_expired()


@platform_task(name="shared_apps.tenants.tasks.tenant_purge_due", soft_time_limit=600, time_limit=660)
def tenant_purge_due_task() -> list[str]:
    purged = tenant_purge_due()
    if purged:
        logger.warning("purged tenants", extra={"schemas": purged})
    return purged


@platform_task(name="shared_apps.tenants.tasks.partitions_maintain", soft_time_limit=600, time_limit=660)
def partitions_maintain_task() -> dict[str, list[str]]:
    created = partitions_maintain()
    if created:
        logger.info("partitions created", extra={"created": created})
    return created


@platform_task(name="shared_apps.tenants.tasks.periodic_fan_out", soft_time_limit=60, time_limit=90)
def periodic_fan_out_task(*, job: str) -> int:
    """Beat runs this for each per-tenant job a tenant app registered: one task per active
    organisation (``schema_name`` in the message), spread over the job's jitter. Returns the count."""
    spec = registry.periodic_job(job)
    schemas = Organisation.objects.filter(
        kind=Organisation.Kind.CUSTOMER, status=Organisation.Status.ACTIVE
    ).values_list("schema_name", flat=True)
    task = current_app.tasks[spec.task]
    count = 0
    for schema_name in schemas.iterator():
        task.apply_async(
            kwargs={**(spec.kwargs or {}), "schema_name": schema_name},
            countdown=random.uniform(0, spec.jitter_seconds),  # noqa: S311 - jitter, not security
        )
        count += 1
    return count


@platform_task(name="shared_apps.tenants.tasks.spares_refill", soft_time_limit=240, time_limit=300)
def spares_refill_task() -> int:
    """Keep the pool of spare schemas at ``TENANT_SPARE_SCHEMAS`` (stale ones dropped first).
    Returns how many were made."""
    return spares_fill()
