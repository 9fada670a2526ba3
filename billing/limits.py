"""Plan limits, enforced exactly under concurrency.

- Responses per calendar month: one conditional upsert of the organisation's usage row inside the
  submit transaction (the row lock serialises concurrent submits of one organisation, and the
  condition re-reads the latest count): never one response over the limit.
- Seats and active surveys: ``limit_enforce`` locks the organisation's billing account row, then the
  caller's count runs under that lock, so two concurrent acceptances or publishes cannot both take
  the last place.

The limit is read from the organisation's plan in the same statement or under the lock, never from
a cached copy of the organisation.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from billing.models import BillingAccount, UsageMonth
from billing.plans import LIMITS, PLANS, plan_get, upgrade_for
from shared_apps.core.errors import DomainError
from shared_apps.tenants.models import Organisation

LIMIT_LABELS = {
    "active_surveys": "active surveys",
    "responses_per_month": "responses this month",
    "seats": "seats",
}


class PlanLimitReached(DomainError):
    code = "plan_limit_reached"
    status = 402

    def __init__(self, *, limit: str, plan: str, value: int) -> None:
        upgrade = upgrade_for(plan, limit)
        message = f"Your {plan_get(plan).name} plan allows {value} {LIMIT_LABELS[limit]}."
        message += (
            f" Upgrade to {upgrade.name} to raise it (POST /api/v1/billing/checkout/ with plan={upgrade.key!r})."
            if upgrade
            else " Contact sales to raise it."
        )
        details: dict[str, Any] = {
            "limit": limit,
            "plan": plan,
            "value": value,
            "upgrade": {"plan": upgrade.key, "checkout": "/api/v1/billing/checkout/"} if upgrade else None,
        }
        super().__init__(message, details=details)
        self.limit = limit


def month_start(at: dt.datetime | None = None) -> dt.date:
    at = (at or timezone.now()).astimezone(dt.UTC)
    return at.date().replace(day=1)


def _limits_json(limit: str) -> str:
    return json.dumps({key: plan.limit(limit) for key, plan in PLANS.items() if plan.limit(limit) is not None})


# Insert the month's row at 1, or add 1 while under the plan's limit; no row back: the limit is reached.
# An unlimited plan has no key in %(limits)s (NULL -> no limit).
_COUNT_RESPONSE_SQL = """
WITH lim AS (
    SELECT o.id, (%(limits)s::jsonb ->> o.plan)::bigint AS value FROM public.tenants_organisation o
    WHERE o.schema_name = %(schema)s
)
INSERT INTO public.billing_usagemonth AS u (organisation_id, month, responses)
SELECT lim.id, %(month)s, 1 FROM lim WHERE lim.value IS NULL OR lim.value >= 1
ON CONFLICT (organisation_id, month) DO UPDATE SET responses = u.responses + 1
WHERE u.responses < COALESCE((SELECT value FROM lim), 9223372036854775807)
RETURNING u.responses
"""


def response_count(*, schema_name: str, at: dt.datetime | None = None) -> int:
    """Count one response against this month's limit (call inside the submit transaction; the
    refusal rolls it back). Returns the month's count; raises PlanLimitReached."""
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_RESPONSE_SQL,
            {"limits": _limits_json("responses_per_month"), "schema": schema_name, "month": month_start(at)},
        )
        row = cursor.fetchone()
    if row is None:
        plan = Organisation.objects.values_list("plan", flat=True).get(schema_name=schema_name)
        raise PlanLimitReached(limit="responses_per_month", plan=plan, value=plan_get(plan).responses_per_month or 0)
    return int(row[0])


def responses_this_month(*, organisation_id: int, at: dt.datetime | None = None) -> int:
    row = UsageMonth.objects.filter(organisation_id=organisation_id, month=month_start(at)).first()
    return row.responses if row else 0


def responses_exhausted(*, organisation: Organisation) -> bool:
    """For the respondent page: no response can be accepted this month."""
    limit = plan_get(organisation.plan).responses_per_month
    return limit is not None and responses_this_month(organisation_id=organisation.pk) >= limit


def account_lock(*, organisation_id: int) -> BillingAccount:
    """The organisation's billing account, created if missing, locked until the transaction ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("account_lock needs a transaction.")
    BillingAccount.objects.bulk_create([BillingAccount(organisation_id=organisation_id)], ignore_conflicts=True)
    return (
        BillingAccount.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .get(organisation_id=organisation_id)
    )


def limit_enforce(*, schema_name: str, limit: str, count: Callable[[], int], adding: int = 1) -> None:
    """Refuse when ``count() + adding`` would exceed ``limit`` for the organisation of ``schema_name``.
    ``count`` runs under the account lock (call inside the transaction that adds)."""
    if limit not in LIMITS:
        raise KeyError(limit)
    organisation_id = Organisation.objects.values_list("pk", flat=True).get(schema_name=schema_name)
    account = account_lock(organisation_id=organisation_id)
    plan = plan_get(account.organisation.plan)
    value = plan.limit(limit)
    if value is not None and count() + adding > value:
        raise PlanLimitReached(limit=limit, plan=plan.key, value=value)
