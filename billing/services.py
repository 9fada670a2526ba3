"""Billing writes: Stripe customer, Checkout and Portal sessions, webhooks applied from the object's
current state, dunning (grace, then restricted), operators' manual overrides, catalogue sync.

Every change of plan or state is recorded in the organisation's own audit log (through the
registry's audit recorder, inside the tenant's context) and announced as ``billing.changed``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import gateway
from billing.models import BillingAccount, StripeEvent
from billing.plans import ORDER, PLANS, Plan, plan_for_lookup_key, plan_get
from shared_apps.core import registry
from shared_apps.core.errors import DomainError
from shared_apps.tenants.cache import tenants_invalidate
from shared_apps.tenants.models import Organisation

logger = logging.getLogger(__name__)
Status = BillingAccount.Status

HANDLED_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
    }
)
# Stripe's subscription status -> ours.
_STATUS = {
    "trialing": Status.TRIALING,
    "active": Status.ACTIVE,
    "past_due": Status.PAST_DUE,
    "unpaid": Status.PAST_DUE,
    "canceled": Status.CANCELED,
    "incomplete_expired": Status.CANCELED,
}


class BillingError(DomainError):
    code = "billing_refused"


class WebhookRefused(DomainError):
    code = "invalid_webhook"
    status = 400


def account_get(*, organisation: Organisation) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(organisation=organisation)
    return account


def _record(organisation: Organisation, action: str, changes: dict[str, Any]) -> None:
    """The organisation's audit log and the ``billing.changed`` event, in its own context."""
    tenants_invalidate()
    with tenant_context(organisation):
        registry.audit(action=action, target_type="organisation", target_id=organisation.slug, changes=changes)
        registry.emit_event("billing.changed", {"organisation_id": organisation.pk, **changes})


# --- customer, checkout, portal ---------------------------------------------------------------------


def customer_ensure(*, organisation: Organisation, email: str) -> str:
    """The organisation's Stripe customer, created once (an idempotency key guards a concurrent twin)."""
    with transaction.atomic():
        BillingAccount.objects.bulk_create([BillingAccount(organisation=organisation)], ignore_conflicts=True)
        account = BillingAccount.objects.select_for_update().get(organisation=organisation)
        if account.stripe_customer_id:
            return account.stripe_customer_id
        customer = gateway.call(
            gateway.client().v1.customers.create,
            params={
                "email": email,
                "name": organisation.name,
                "metadata": {"organisation": str(organisation.public_id), "slug": organisation.slug},
            },
            options={"idempotency_key": f"customer-{organisation.public_id}"},
        )
        account.stripe_customer_id = customer["id"]
        account.save(update_fields=["stripe_customer_id", "updated_at"])
    return account.stripe_customer_id


def price_for(plan: Plan) -> dict[str, Any]:
    prices = gateway.call(
        gateway.client().v1.prices.list, params={"lookup_keys": [plan.lookup_key], "active": True, "limit": 1}
    )
    if not prices.get("data"):
        raise BillingError(
            f"The {plan.name} plan has no price at Stripe yet (run manage.py billing_sync).",
            code="billing_not_synced",
            status=503,
        )
    price: dict[str, Any] = prices["data"][0]
    return price


def checkout_session_create(
    *, organisation: Organisation, plan_key: str, email: str, success_url: str, cancel_url: str
) -> dict[str, str]:
    """A Stripe Checkout Session for ``plan_key``; the webhook applies the outcome."""
    plan = PLANS.get(plan_key)
    if plan is None or not plan.purchasable:
        choices = ", ".join(k for k in ORDER if PLANS[k].purchasable)
        raise BillingError(f"Choose a plan to buy: {choices}.", code="invalid_plan")
    account = account_get(organisation=organisation)
    if account.status in (Status.ACTIVE, Status.TRIALING, Status.PAST_DUE, Status.RESTRICTED):
        raise BillingError(
            "This organisation already has a subscription: change it in the billing portal.",
            code="already_subscribed",
            status=409,
        )
    customer = customer_ensure(organisation=organisation, email=email)
    price = price_for(plan)
    subscription_data: dict[str, Any] = {"metadata": {"organisation": str(organisation.public_id), "plan": plan.key}}
    if account.status == Status.NONE and settings.BILLING_TRIAL_DAYS:
        subscription_data["trial_period_days"] = settings.BILLING_TRIAL_DAYS
    session = gateway.call(
        gateway.client().v1.checkout.sessions.create,
        params={
            "mode": "subscription",
            "customer": customer,
            "client_reference_id": str(organisation.public_id),
            "line_items": [{"price": price["id"], "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "subscription_data": subscription_data,
            "metadata": {"organisation": str(organisation.public_id), "plan": plan.key},
        },
    )
    return {"id": session["id"], "url": session["url"]}


def portal_session_create(*, organisation: Organisation, return_url: str) -> dict[str, str]:
    account = account_get(organisation=organisation)
    if not account.stripe_customer_id:
        raise BillingError(
            "There is nothing to manage yet: subscribe through checkout first.", code="no_subscription", status=409
        )
    session = gateway.call(
        gateway.client().v1.billing_portal.sessions.create,
        params={"customer": account.stripe_customer_id, "return_url": return_url},
    )
    return {"id": session["id"], "url": session["url"]}


# --- webhooks ---------------------------------------------------------------------------------------


def webhook_event_verify(*, payload: bytes, signature: str) -> dict[str, Any]:
    """The event, if ``Stripe-Signature`` is a valid ``t=…,v1=…`` HMAC of this payload with our endpoint
    secret, signed within the tolerance; otherwise a 400."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise gateway.BillingDisabled("Billing is not enabled on this platform.")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_WEBHOOK_TOLERANCE
        )
    except stripe.SignatureVerificationError as exc:
        raise WebhookRefused(f"Signature refused: {exc.user_message or exc}", code="invalid_signature") from exc
    except UnicodeDecodeError as exc:
        raise WebhookRefused("The payload is not UTF-8.") from exc
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise WebhookRefused("The payload is not JSON.") from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise WebhookRefused("The payload is not a Stripe event.")
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    if not isinstance(obj, dict):
        raise WebhookRefused("The event has no data.object.")
    return event


@dataclass(frozen=True)
class WebhookResult:
    outcome: str  # processed | duplicate | ignored | unknown_customer
    organisation: str | None = None


def _ids(event_type: str, obj: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(customer, subscription, organisation public id) named by the event's object."""
    if event_type.startswith("customer.subscription."):
        return obj.get("customer"), obj.get("id"), (obj.get("metadata") or {}).get("organisation")
    if event_type == "checkout.session.completed":
        return obj.get("customer"), obj.get("subscription"), obj.get("client_reference_id")
    return obj.get("customer"), obj.get("subscription"), None


def webhook_process(*, event: dict[str, Any]) -> WebhookResult:
    """Apply one verified event, once (by event id), from the subscription's *current* state at Stripe:
    events arriving twice or out of order converge on the same result."""
    event_type = event["type"]
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(event_id=event["id"], type=event_type[:100])
        except IntegrityError:
            return WebhookResult("duplicate")
        if event_type not in HANDLED_EVENTS:
            return WebhookResult("ignored")
        customer, subscription_id, public_id = _ids(event_type, event["data"]["object"])
        account = _account_for(customer=customer, public_id=public_id)
        if account is None:
            logger.warning("stripe event for an unknown customer", extra={"event": event["id"], "type": event_type})
            return WebhookResult("unknown_customer")
        record.organisation_id = account.organisation_id
        record.save(update_fields=["organisation"])
        subscription_id = subscription_id or account.stripe_subscription_id
        if not subscription_id:  # e.g. a one-off invoice of a customer who never subscribed: no state to apply
            return WebhookResult("processed", account.organisation.slug)
        subscription = _subscription_current(subscription_id)  # None: gone at Stripe (canceled)
        subscription_apply(account=account, subscription=subscription, source=f"stripe:{event_type}")
    return WebhookResult("processed", account.organisation.slug)


def _account_for(*, customer: str | None, public_id: str | None) -> BillingAccount | None:
    """The account of this customer (or, for a first checkout, of the organisation it names), locked."""
    accounts = BillingAccount.objects.select_for_update(of=("self",)).select_related("organisation")
    if customer:
        account = accounts.filter(stripe_customer_id=customer).first()
        if account is not None:
            return account
    if public_id:
        organisation = Organisation.objects.filter(public_id=public_id if _is_uuid(public_id) else None).first()
        if organisation is not None:
            BillingAccount.objects.bulk_create([BillingAccount(organisation=organisation)], ignore_conflicts=True)
            account = accounts.get(organisation=organisation)
            if customer and not account.stripe_customer_id:
                account.stripe_customer_id = customer
                account.save(update_fields=["stripe_customer_id", "updated_at"])
            return account if (not customer or account.stripe_customer_id == customer) else None
    return None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _subscription_current(subscription_id: str) -> dict[str, Any] | None:
    try:
        return gateway.call(gateway.client().v1.subscriptions.retrieve, subscription_id)
    except gateway.NotFoundAtStripe:
        return None


def _plan_of(subscription: dict[str, Any]) -> Plan | None:
    items = ((subscription.get("items") or {}).get("data") or [{}])[0]
    price = items.get("price") or {}
    plan = plan_for_lookup_key(price.get("lookup_key"))
    price_id = price.get("id") or (items.get("plan") or {}).get("id")
    if plan is None and price_id:  # a legacy plan id is the price's id: ask Stripe for its lookup key
        try:
            found = gateway.call(gateway.client().v1.prices.retrieve, price_id)
            plan = plan_for_lookup_key(found.get("lookup_key"))
        except gateway.NotFoundAtStripe:
            plan = None
    if plan is None:
        plan = PLANS.get((subscription.get("metadata") or {}).get("plan", ""))
    return plan


def _timestamp(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC) if isinstance(value, int | float) and value else None


def subscription_apply(*, account: BillingAccount, subscription: dict[str, Any] | None, source: str) -> bool:
    """Make the account and the organisation's plan match ``subscription`` (None: gone at Stripe). Call with
    the account locked. Returns whether anything changed (and, if so, records it)."""
    organisation = account.organisation
    now = timezone.now()
    sub_id = (subscription or {}).get("id", "")
    if account.stripe_subscription_id and sub_id and sub_id != account.stripe_subscription_id:
        current = _subscription_current(account.stripe_subscription_id)
        live = current is not None and current.get("status") in ("trialing", "active", "past_due", "unpaid")
        if live and subscription is not None and subscription.get("status") not in ("trialing", "active"):
            return False  # an old subscription ending while a newer one is live: not ours to act on
    status = _STATUS.get((subscription or {}).get("status", "canceled"))
    if status is None:  # incomplete: nothing to apply until the first payment settles
        return False
    before = _snapshot(account, organisation)
    plan = _plan_of(subscription) if subscription is not None else None
    account.stripe_subscription_id = sub_id or account.stripe_subscription_id
    if status == Status.PAST_DUE:
        if account.status == Status.RESTRICTED or (account.grace_deadline and account.grace_deadline <= now):
            status = Status.RESTRICTED
        account.grace_deadline = account.grace_deadline or now + dt.timedelta(days=settings.BILLING_GRACE_DAYS)
    else:
        account.grace_deadline = None
    account.status = status
    if plan is not None and status != Status.CANCELED:
        account.subscribed_plan = plan.key
    item = ((subscription or {}).get("items") or {}).get("data") or [{}]
    period_start = (subscription or {}).get("current_period_start") or item[0].get("current_period_start")
    period_end = (subscription or {}).get("current_period_end") or item[0].get("current_period_end")
    account.current_period_start = _timestamp(period_start) or account.current_period_start
    account.current_period_end = _timestamp(period_end) or account.current_period_end
    if not account.manual_override:
        organisation.plan = "free" if status == Status.CANCELED else (account.subscribed_plan or organisation.plan)
    after = _snapshot(account, organisation)
    if after == before:
        return False
    account.save()
    if organisation.plan != before["plan"]:
        Organisation.objects.filter(pk=organisation.pk).update(plan=organisation.plan, updated_at=now)
    changes = {
        "before": {k: v for k, v in before.items() if v != after[k]},
        "after": {k: v for k, v in after.items() if before[k] != v},
        "source": source,
    }
    transaction.on_commit(lambda: _record(organisation, "billing.updated", changes))
    logger.info("billing updated", extra={"tenant": organisation.schema_name, "changes": changes})
    return True


def _snapshot(account: BillingAccount, organisation: Organisation) -> dict[str, Any]:
    return {
        "plan": organisation.plan,
        "status": account.status,
        "subscribed_plan": account.subscribed_plan,
        "subscription": account.stripe_subscription_id,
        "grace_deadline": account.grace_deadline.isoformat() if account.grace_deadline else None,
        "current_period_end": account.current_period_end.isoformat() if account.current_period_end else None,
    }


def grace_expire(*, now: dt.datetime | None = None) -> list[str]:
    """past_due accounts whose grace has ended become restricted (run by beat; the state is also computed
    on read, so the restriction never waits for this job). Returns the organisations' slugs."""
    now = now or timezone.now()
    slugs = []
    due = BillingAccount.objects.filter(status=Status.PAST_DUE, grace_deadline__lte=now).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            account = BillingAccount.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=pk)
            if account.status != Status.PAST_DUE or not account.grace_deadline or account.grace_deadline > now:
                continue
            account.status = Status.RESTRICTED
            account.save(update_fields=["status", "updated_at"])
            organisation = account.organisation
            changes = {"before": {"status": "past_due"}, "after": {"status": "restricted"}, "source": "grace_expired"}
            transaction.on_commit(lambda o=organisation, c=changes: _record(o, "billing.updated", c))  # type: ignore[misc]
            slugs.append(organisation.slug)
    return slugs


# --- operators --------------------------------------------------------------------------------------


def plan_override(*, organisation: Organisation, plan_key: str | None, reason: str = "") -> BillingAccount:
    """``update_tenant --plan``: fix the effective plan by hand (webhooks then keep it); ``None`` clears the
    override and returns to the subscription's plan (or free)."""
    if plan_key is not None:
        plan_get(plan_key)
    with transaction.atomic():
        BillingAccount.objects.bulk_create([BillingAccount(organisation=organisation)], ignore_conflicts=True)
        account = (
            BillingAccount.objects.select_for_update(of=("self",))
            .select_related("organisation")
            .get(organisation=organisation)
        )
        organisation = account.organisation
        before = {"plan": organisation.plan, "manual_override": account.manual_override}
        if plan_key is None:
            account.manual_override = False
            account.override_reason = ""
            live = account.status in (Status.ACTIVE, Status.TRIALING, Status.PAST_DUE, Status.RESTRICTED)
            organisation.plan = account.subscribed_plan if live and account.subscribed_plan else "free"
        else:
            account.manual_override = True
            account.override_reason = reason[:500]
            organisation.plan = plan_key
        account.save()
        Organisation.objects.filter(pk=organisation.pk).update(plan=organisation.plan, updated_at=timezone.now())
        after = {"plan": organisation.plan, "manual_override": account.manual_override}
        changes = {"before": before, "after": after, "reason": reason[:200], "source": "operator"}
        transaction.on_commit(lambda: _record(organisation, "billing.plan_override", changes))
    return account


# --- catalogue --------------------------------------------------------------------------------------


def billing_sync() -> list[str]:
    """Create or update one product and one active monthly price per purchasable plan, found by lookup
    key; idempotent (a second run changes nothing). Returns what it did, a line per plan."""
    api = gateway.client().v1
    lines = []
    for key in ORDER:
        plan = PLANS[key]
        if not plan.purchasable:
            continue
        try:
            product = gateway.call(api.products.retrieve, plan.product_id)
            done = "product unchanged"
            if product.get("name") != f"Survey platform {plan.name}" or not product.get("active", True):
                gateway.call(
                    api.products.update,
                    plan.product_id,
                    params={"name": f"Survey platform {plan.name}", "active": True},
                )
                done = "product updated"
        except gateway.NotFoundAtStripe:
            gateway.call(
                api.products.create,
                params={"id": plan.product_id, "name": f"Survey platform {plan.name}", "metadata": {"plan": key}},
            )
            done = "product created"
        existing = gateway.call(api.prices.list, params={"lookup_keys": [plan.lookup_key], "active": True, "limit": 1})
        price = (existing.get("data") or [None])[0]
        recurring = (price or {}).get("recurring") or {}
        if (
            price
            and price.get("unit_amount") == plan.amount
            and price.get("currency") == plan.currency
            and recurring.get("interval") == "month"
            and price.get("product") == plan.product_id
        ):
            lines.append(f"{key}: {done}, price unchanged ({price['id']})")
            continue
        created = gateway.call(
            api.prices.create,
            params={
                "product": plan.product_id,
                "unit_amount": plan.amount,
                "currency": plan.currency,
                "recurring": {"interval": "month"},
                "lookup_key": plan.lookup_key,
                "transfer_lookup_key": True,
                "metadata": {"plan": key},
            },
        )
        if price:
            gateway.call(api.prices.update, price["id"], params={"active": False})
        lines.append(f"{key}: {done}, price {'replaced' if price else 'created'} ({created['id']})")
    return lines
