"""Billing reads: the effective state (dunning computed on read), the banner, invoices at Stripe."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from billing import gateway
from billing.models import BillingAccount
from shared_apps.tenants.models import Organisation

Status = BillingAccount.Status


def account_for(*, organisation_id: int) -> BillingAccount | None:
    return BillingAccount.objects.filter(organisation_id=organisation_id).first()


def billing_state(account: BillingAccount | None, now: dt.datetime | None = None) -> str:
    """The state in force: past_due past its grace deadline is restricted even before beat records it."""
    if account is None:
        return Status.NONE
    now = now or timezone.now()
    if account.status == Status.PAST_DUE and account.grace_deadline and account.grace_deadline <= now:
        return Status.RESTRICTED
    return str(account.status)


def is_restricted(*, organisation_id: int) -> bool:
    return billing_state(account_for(organisation_id=organisation_id)) == Status.RESTRICTED


def billing_banner(account: BillingAccount | None) -> str | None:
    state = billing_state(account)
    if account is not None and state == Status.PAST_DUE and account.grace_deadline:
        return (
            f"Your last payment failed. Update your payment method before {account.grace_deadline:%Y-%m-%d %H:%M} "
            "UTC to keep full access."
        )
    if state == Status.RESTRICTED:
        return (
            "Your subscription is unpaid: the organisation is read-only (exports still work, respondents can still "
            "answer). Update your payment method to restore access."
        )
    return None


def invoice_list(*, organisation: Organisation, limit: int = 12) -> list[dict[str, Any]]:
    account = account_for(organisation_id=organisation.pk)
    if account is None or not account.stripe_customer_id:
        return []
    found = gateway.call(
        gateway.client().v1.invoices.list, params={"customer": account.stripe_customer_id, "limit": limit}
    )
    keys = ("id", "number", "status", "amount_due", "amount_paid", "currency", "created", "hosted_invoice_url")
    return [{key: invoice.get(key) for key in keys} for invoice in found.get("data") or []]
