from __future__ import annotations

import logging

from shared_apps.accounts.models import User
from shared_apps.core.tasks import platform_task
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import partitions_maintain, tenant_provision, tenant_purge_due

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
