"""Reads of the distribution app."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from tenant_apps.distribution.models import Contact, ContactList, Distribution, Invitation
from tenant_apps.distribution.personal import email_hash


def contact_list_qs(*, list_id: int | None = None, email: str | None = None) -> QuerySet[Contact]:
    qs = Contact.objects.all()
    if list_id is not None:
        qs = qs.filter(lists__id=list_id)
    if email:
        qs = qs.filter(email_hash=email_hash(email))
    return qs.prefetch_related("lists")


def contact_lists_qs() -> QuerySet[ContactList]:
    return ContactList.objects.annotate(size=Count("contactlistmember"))


def distribution_counts(distribution_ids: list[int]) -> dict[int, dict[str, int]]:
    """Invitations per status, for each distribution (one query)."""
    counts: dict[int, dict[str, int]] = {i: dict.fromkeys(Invitation.Status.values, 0) for i in distribution_ids}
    rows = (
        Invitation.objects.filter(distribution_id__in=distribution_ids)
        .values_list("distribution_id", "status")
        .annotate(n=Count("id"))
    )
    for distribution_id, status, n in rows:
        counts[distribution_id][status] = n
    return counts


def distributions_qs(*, survey_id: int | None = None) -> QuerySet[Distribution]:
    qs = Distribution.objects.all()
    return qs.filter(survey_id=survey_id) if survey_id is not None else qs
