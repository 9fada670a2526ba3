"""Usage against every limit of the plan, counted in the tenant's schema (call inside its context)."""

from __future__ import annotations

from typing import Any

from billing.limits import responses_this_month
from billing.plans import LIMITS, plan_get
from shared_apps.tenants.models import Organisation
from tenant_apps.members.models import Membership
from tenant_apps.surveys.models import Survey


def usage_for(*, organisation: Organisation) -> dict[str, dict[str, Any]]:
    plan = plan_get(organisation.plan)
    used = {
        "active_surveys": Survey.objects.filter(status=Survey.Status.PUBLISHED).count(),
        "responses_per_month": responses_this_month(organisation_id=organisation.pk),
        "seats": Membership.objects.filter(is_active=True).exclude(role__slug="respondent").count(),
    }
    return {name: {"used": used[name], "limit": plan.limit(name)} for name in LIMITS}
