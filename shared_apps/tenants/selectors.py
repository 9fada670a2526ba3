from __future__ import annotations

import uuid

from django.db.models import QuerySet

from shared_apps.tenants.models import Organisation


def organisation_list(*, include_deleted: bool = True) -> QuerySet[Organisation]:
    """Customer organisations (not the platform row, not the template)."""
    qs = Organisation.objects.filter(kind=Organisation.Kind.CUSTOMER).prefetch_related("domains")
    if not include_deleted:
        qs = qs.exclude(status=Organisation.Status.PENDING_DELETION)
    return qs.order_by("slug")


def organisation_get_by_public_id(*, public_id: uuid.UUID) -> Organisation | None:
    return Organisation.objects.filter(public_id=public_id, kind=Organisation.Kind.CUSTOMER).first()
