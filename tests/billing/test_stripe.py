"""Billing against real protocol peers: the real ``stripe`` client talking to localstripe (customers,
subscriptions, invoices) and the suite's front server (products, prices, Checkout, Portal); webhooks
genuinely signed with the endpoint secret."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import json
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import gateway
from billing.limits import month_start
from billing.models import BillingAccount, StripeEvent, UsageMonth
from billing.plans import PLANS
from billing.services import grace_expire
from shared_apps.tenants.models import Organisation
from tenant_apps.audit.models import AuditEvent
from tenant_apps.surveys import services as survey_services
from tests.billing.conftest import event
from tests.billing.test_signup_flow import submit
from tests.conftest import host_of

DEMO = survey_services.DEMO_DEFINITION


def _stripe() -> Any:
    return gateway.client().v1


def _billing_audits(tenant: Organisation) -> list[dict[str, Any]]:
    with tenant_context(tenant):
        return list(AuditEvent.objects.filter(action__startswith="billing.").order_by("id").values("action", "changes"))


def subscribe(tenant, client, fake_stripe, deliver, *, plan="team", card="4242424242424242"):
    """Checkout through the API, pay at the (fake) Checkout page, deliver the signed webhook."""
    started = client.post("/api/v1/billing/checkout/", {"plan": plan}, content_type="application/json")
    assert started.status_code == 201, started.content
    session = fake_stripe.checkout_complete(started.json()["id"], card=card)
    delivered = deliver(event("checkout.session.completed", copy.deepcopy(session)))
    assert delivered.status_code == 200, delivered.content
    assert delivered.json() == {"received": True, "outcome": "processed"}
    return session


@pytest.fixture
def paying(make_tenant, make_member, api_client_for):
    tenant = make_tenant(plan="free")
    admin = make_member(tenant, role="admin")
    return tenant, api_client_for(admin, tenant)


def test_billing_sync_is_idempotent_by_lookup_key(fake_stripe, monkeypatch):
    before = copy.deepcopy(fake_stripe.prices)
    out = io.StringIO()
    call_command("billing_sync", stdout=out)
    assert out.getvalue().count("product unchanged, price unchanged") == 3, out.getvalue()
    assert fake_stripe.prices == before  # nothing created the second time
    active = {p["lookup_key"]: p for p in fake_stripe.prices.values() if p["active"]}
    assert set(active) == {"survey_team_monthly", "survey_business_monthly", "survey_enterprise_monthly"}
    assert active["survey_team_monthly"]["unit_amount"] == 2900
    assert active["survey_team_monthly"]["recurring"]["interval"] == "month"

    # A new amount: a new price takes over the lookup key, the old one is deactivated.
    monkeypatch.setitem(PLANS, "team", dataclasses.replace(PLANS["team"], amount=3100))
    out = io.StringIO()
    call_command("billing_sync", stdout=out)
    assert "team: product unchanged, price replaced" in out.getvalue()
    active = {p["lookup_key"]: p for p in fake_stripe.prices.values() if p["active"]}
    assert active["survey_team_monthly"]["unit_amount"] == 3100
    assert not fake_stripe.prices[before_team_id(before)]["active"]
    monkeypatch.undo()
    call_command("billing_sync", stdout=io.StringIO())
    active = {p["lookup_key"]: p for p in fake_stripe.prices.values() if p["active"]}
    assert active["survey_team_monthly"]["unit_amount"] == 2900


def before_team_id(prices: dict[str, Any]) -> str:
    return next(pid for pid, p in prices.items() if p["lookup_key"] == "survey_team_monthly" and p["active"])


def test_checkout_and_portal_sessions(paying, fake_stripe, deliver):
    tenant, client = paying
    started = client.post("/api/v1/billing/checkout/", {"plan": "business"}, content_type="application/json")
    assert started.status_code == 201, started.content
    assert started.json()["url"].startswith("https://checkout.stripe.test/")
    session = fake_stripe.sessions[started.json()["id"]]
    account = BillingAccount.objects.get(organisation=tenant)
    assert session["customer"] == account.stripe_customer_id.strip()
    assert session["client_reference_id"] == str(tenant.public_id)
    price = fake_stripe.prices[session["line_items_request"][0]["price"]]
    assert price["lookup_key"] == "survey_business_monthly"
    assert session["subscription_data_request"]["trial_period_days"] == "14"
    customer = gateway.call(_stripe().customers.retrieve, account.stripe_customer_id)  # at localstripe
    assert customer["metadata"]["organisation"] == str(tenant.public_id)
    # A second checkout reuses the customer.
    again = client.post("/api/v1/billing/checkout/", {"plan": "team"}, content_type="application/json")
    assert fake_stripe.sessions[again.json()["id"]]["customer"] == account.stripe_customer_id

    assert (
        client.post("/api/v1/billing/checkout/", {"plan": "free"}, content_type="application/json").status_code == 400
    )
    assert (
        client.post("/api/v1/billing/checkout/", {"plan": "gold"}, content_type="application/json").status_code == 400
    )

    portal = client.post("/api/v1/billing/portal/")
    assert portal.status_code == 201, portal.content
    assert portal.json()["url"].startswith("https://billing.stripe.test/")
    assert fake_stripe.portal_sessions[-1]["customer"] == account.stripe_customer_id
    assert fake_stripe.portal_sessions[-1]["return_url"] == f"http://{host_of(tenant)}:8000/app/billing"


def test_webhook_signature_timestamp_and_replay(paying, fake_stripe, deliver, public_client):
    tenant, client = paying
    session = subscribe(tenant, client, fake_stripe, deliver)
    subscription = gateway.call(_stripe().subscriptions.retrieve, session["subscription"])
    evt = event("customer.subscription.updated", subscription)
    audits = len(_billing_audits(tenant))

    bad = deliver(evt, secret="whsec_someone_else")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_signature"
    stale = deliver(evt, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 400
    assert stale.json()["error"]["code"] == "invalid_signature"
    unsigned = public_client.post("/api/v1/billing/webhook/", evt, content_type="application/json")
    assert unsigned.status_code == 400
    assert not StripeEvent.objects.filter(event_id=evt["id"]).exists()

    assert deliver(evt).json()["outcome"] == "processed"
    replayed = deliver(evt)
    assert replayed.status_code == 200
    assert replayed.json()["outcome"] == "duplicate"
    assert StripeEvent.objects.filter(event_id=evt["id"]).count() == 1
    assert len(_billing_audits(tenant)) == audits  # the state did not change: nothing new to record
    # A tenant host does not serve the webhook.
    assert Client(HTTP_HOST=host_of(tenant)).post("/api/v1/billing/webhook/").status_code == 404


def test_out_of_order_events_converge_on_the_current_state(paying, fake_stripe, deliver):
    tenant, client = paying
    session = subscribe(tenant, client, fake_stripe, deliver)
    live = gateway.call(_stripe().subscriptions.retrieve, session["subscription"])
    assert live["status"] == "trialing"
    canceled = gateway.call(_stripe().subscriptions.cancel, session["subscription"])
    assert canceled["status"] == "canceled"
    # Stripe sends "updated" (trialing) and then "deleted"; they arrive the other way round, and twice.
    deleted_evt = event("customer.subscription.deleted", canceled)
    updated_evt = event("customer.subscription.updated", live)
    for evt in (deleted_evt, updated_evt, deleted_evt, updated_evt):
        assert deliver(evt).status_code == 200
    account = BillingAccount.objects.select_related("organisation").get(organisation=tenant)
    assert account.status == "canceled"
    assert account.organisation.plan == "free"  # canceled -> free limits
    actions = [(a["action"], a["changes"]["after"].get("status")) for a in _billing_audits(tenant)]
    assert actions == [("billing.updated", "trialing"), ("billing.updated", "canceled")]


@pytest.mark.worker
def test_trial_to_active_then_past_due_grace_restricted_and_back(  # noqa: PLR0917 - pytest fixtures
    paying, fake_stripe, deliver, make_member, api_client_for, celery_worker_process, smtp_server
):
    tenant, client = paying
    session = subscribe(tenant, client, fake_stripe, deliver)
    account = BillingAccount.objects.get(organisation=tenant)
    assert (account.status, account.subscribed_plan) == ("trialing", "team")
    # The trial ends and the first invoice is paid: active.
    invoice = fake_stripe.trial_end(session["subscription"])
    assert invoice["status"] == "paid"
    assert gateway.call(_stripe().subscriptions.retrieve, session["subscription"])["status"] == "active"
    assert deliver(event("invoice.paid", invoice)).json()["outcome"] == "processed"
    account.refresh_from_db()
    assert account.status == "active"
    assert account.current_period_end is not None
    body = client.get("/api/v1/billing/").json()
    assert body["status"] == "active"
    assert body["invoices"][0]["status"] == "paid"
    assert body["banner"] is None

    # A payment fails: the card now declines, and a switch to yearly billing invoices at once. past_due.
    token = gateway.call(
        _stripe().tokens.create,
        params={"card": {"number": "4000000000000341", "exp_month": 12, "exp_year": 2040, "cvc": "123"}},
    )
    card = gateway.call(
        _stripe().customers.payment_sources.create, account.stripe_customer_id, params={"source": token["id"]}
    )
    gateway.call(_stripe().customers.update, account.stripe_customer_id, params={"default_source": card["id"]})
    yearly = gateway.call(
        _stripe().prices.create,
        params={
            "product": PLANS["team"].product_id,
            "unit_amount": 29000,
            "currency": "eur",
            "recurring": {"interval": "year"},
            "lookup_key": "survey_team_yearly_test",
        },
    )
    item = gateway.call(_stripe().subscriptions.retrieve, session["subscription"])["items"]["data"][0]["id"]
    gateway.call(
        _stripe().subscriptions.update, session["subscription"], params={"items": [{"id": item, "plan": yearly["id"]}]}
    )
    current = gateway.call(_stripe().subscriptions.retrieve, session["subscription"])
    assert current["status"] == "past_due", current["status"]
    failed = next(
        i
        for i in gateway.call(_stripe().invoices.list, params={"customer": account.stripe_customer_id})["data"]
        if i["status"] != "paid"
    )
    assert deliver(event("invoice.payment_failed", failed)).json()["outcome"] == "processed"
    account.refresh_from_db()
    assert account.status == "past_due"
    assert account.grace_deadline is not None
    assert dt.timedelta(days=6) < account.grace_deadline - timezone.now() <= dt.timedelta(days=7)
    body = client.get("/api/v1/billing/").json()
    assert body["status"] == "past_due"
    assert "payment failed" in body["banner"]
    admin_email = _admin_emails(tenant)
    for email in admin_email:
        message = smtp_server.wait_for(email)
        assert "Payment failed" in message["Subject"]
    # Within the grace period everything still works.
    assert client.post("/api/v1/surveys/", {"title": "Still fine"}, content_type="application/json").status_code == 201

    # The grace period ends: restricted. Staff are read-only, exports still work, respondents still answer.
    BillingAccount.objects.filter(pk=account.pk).update(grace_deadline=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/api/v1/billing/").json()["status"] == "restricted"
    refused = client.post("/api/v1/surveys/", {"title": "Refused"}, content_type="application/json")
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "billing_restricted"
    assert client.get("/api/v1/surveys/").status_code == 200
    with tenant_context(tenant):
        survey = survey_services.survey_create_published(title="Open", definition=copy.deepcopy(DEMO))
    assert submit(tenant, survey).status_code == 201
    export = client.post(f"/api/v1/surveys/{survey.pk}/exports/", {"format": "csv"}, content_type="application/json")
    assert export.status_code != 402, export.content
    assert client.post("/api/v1/billing/portal/").status_code == 201  # the way out stays open
    assert grace_expire() == [tenant.slug]
    account.refresh_from_db()
    assert account.status == "restricted"

    # The customer fixes the card and the invoice is paid: active again, restriction lifted.
    good = gateway.call(
        _stripe().tokens.create,
        params={"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}},
    )
    good_card = gateway.call(
        _stripe().customers.payment_sources.create, account.stripe_customer_id, params={"source": good["id"]}
    )
    gateway.call(_stripe().customers.update, account.stripe_customer_id, params={"default_source": good_card["id"]})
    paid = gateway.call(_stripe().invoices.pay, failed["id"])
    assert paid["status"] == "paid"
    assert gateway.call(_stripe().subscriptions.retrieve, session["subscription"])["status"] == "active"
    assert deliver(event("invoice.paid", paid)).json()["outcome"] == "processed"
    account.refresh_from_db()
    assert (account.status, account.grace_deadline, account.subscribed_plan) == ("active", None, "team")
    assert client.post("/api/v1/surveys/", {"title": "Back"}, content_type="application/json").status_code == 201
    statuses = [a["changes"]["after"].get("status") for a in _billing_audits(tenant) if a["changes"].get("after")]
    assert statuses == ["trialing", "active", "past_due", "restricted", "active"]


def _admin_emails(tenant: Organisation) -> list[str]:
    from tenant_apps.members.models import Membership

    with tenant_context(tenant):
        return list(Membership.objects.filter(role__slug="admin", is_active=True).values_list("user__email", flat=True))


def test_manual_override_is_audited_and_kept_by_webhooks(paying, fake_stripe, deliver):
    tenant, client = paying
    session = subscribe(tenant, client, fake_stripe, deliver)
    out = io.StringIO()
    call_command("update_tenant", tenant.slug, "--plan", "enterprise", "--reason", "signed contract", stdout=out)
    tenant.refresh_from_db()
    assert tenant.plan == "enterprise"
    assert BillingAccount.objects.get(organisation=tenant).manual_override
    override = [a for a in _billing_audits(tenant) if a["action"] == "billing.plan_override"]
    assert override[-1]["changes"]["after"] == {"plan": "enterprise", "manual_override": True}
    assert override[-1]["changes"]["reason"] == "signed contract"
    # A webhook updates the state but keeps the operator's plan.
    subscription = gateway.call(_stripe().subscriptions.retrieve, session["subscription"])
    deliver(event("customer.subscription.updated", subscription))
    tenant.refresh_from_db()
    assert tenant.plan == "enterprise"

    UsageMonth.objects.update_or_create(organisation=tenant, month=month_start(), defaults={"responses": 42})
    listed = io.StringIO()
    call_command("list_tenants", "--json", stdout=listed)
    row = next(r for r in json.loads(listed.getvalue()) if r["slug"] == tenant.slug)
    assert (row["plan"], row["billing"], row["responses_this_month"], row["responses_limit"]) == (
        "enterprise",
        "trialing",
        42,
        None,
    )
    table = io.StringIO()
    call_command("list_tenants", stdout=table)
    assert "BILLING" in table.getvalue()
    assert "42/-" in table.getvalue()

    call_command("update_tenant", tenant.slug, "--clear-plan-override", stdout=io.StringIO())
    tenant.refresh_from_db()
    assert tenant.plan == "team"  # back to what the subscription pays for


def test_billing_api_permissions_and_tenant_isolation(  # noqa: PLR0917 - pytest fixtures
    paying, fake_stripe, deliver, make_tenant, make_member, api_client_for
):
    tenant, client = paying
    subscribe(tenant, client, fake_stripe, deliver)
    analyst = api_client_for(make_member(tenant, role="analyst"), tenant)
    assert analyst.get("/api/v1/billing/").status_code == 403
    assert (
        analyst.post("/api/v1/billing/checkout/", {"plan": "team"}, content_type="application/json").status_code == 403
    )
    assert analyst.post("/api/v1/billing/portal/").status_code == 403
    assert Client(HTTP_HOST=host_of(tenant)).get("/api/v1/billing/").status_code == 401

    connection.set_schema_to_public()  # the test client's requests left the connection on the tenant
    other = make_tenant(plan="free")
    other_admin = make_member(other, role="admin")
    other_client = api_client_for(other_admin, other)
    mine = client.get("/api/v1/billing/").json()
    theirs = other_client.get("/api/v1/billing/").json()
    assert (mine["plan"]["key"], theirs["plan"]["key"]) == ("team", "free")
    assert (theirs["status"], theirs["invoices"]) == ("none", [])
    # A token of one organisation is refused on the other's host.
    stolen = Client(HTTP_HOST=host_of(other), HTTP_AUTHORIZATION=client.defaults["HTTP_AUTHORIZATION"])
    assert stolen.get("/api/v1/billing/").status_code == 401
    assert stolen.post("/api/v1/billing/portal/").status_code == 401
    # The other organisation has no customer: its portal is refused, not someone else's opened.
    assert other_client.post("/api/v1/billing/portal/").status_code == 409
    # An event for an unknown customer changes nobody.
    stray = deliver(event("customer.subscription.updated", {"id": "sub_nobody", "customer": "cus_nobody"}))
    assert stray.json()["outcome"] == "unknown_customer"


def test_production_refuses_billing_without_keys():
    from tests.shared_apps.core.test_api_basics import _settings_subprocess

    full = {
        "DJANGO_SECRET_KEY": "k" * 64,
        "DJANGO_ALLOWED_HOSTS": "surveys.example.com,.surveys.example.com",
        "DATABASE_URL": "postgres://app@db/survey",
        "DATABASE_OWNER_URL": "postgres://owner@db/survey",
        "REDIS_URL": "redis://cache:6379/0",
        "VAULT_ADDR": "https://vault.example.com",
        "VAULT_TOKEN": "s.a-real-looking-token",
    }
    assert _settings_subprocess(full).returncode == 0
    no_keys = _settings_subprocess({**full, "BILLING_ENABLED": "true"})
    assert no_keys.returncode != 0
    assert "STRIPE_SECRET_KEY" in no_keys.stderr
    test_key = _settings_subprocess(
        {**full, "BILLING_ENABLED": "true", "STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    )
    assert test_key.returncode != 0
    assert "live key" in test_key.stderr
    live = _settings_subprocess(
        {**full, "BILLING_ENABLED": "true", "STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    )
    assert live.returncode == 0, live.stderr


def test_webhook_hostile_and_unhandled_payloads(stripe_servers, deliver, public_client):
    from tests.billing.conftest import sign

    for payload in (b"not json", b"[]", b'{"id": "evt_x", "type": "invoice.paid"}', "\u00e9".encode("latin-1")):
        refused = public_client.generic(
            "POST",
            "/api/v1/billing/webhook/",
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(payload),
        )
        assert refused.status_code == 400, (payload, refused.content)
        assert refused.json()["error"]["code"] in ("invalid_webhook", "invalid_signature")
    huge = b"{" + b" " * (600 * 1024) + b"}"
    too_big = public_client.generic(
        "POST", "/api/v1/billing/webhook/", huge, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(huge)
    )
    assert too_big.status_code == 413
    ignored = deliver(event("customer.created", {"id": "cus_x", "object": "customer"}))
    assert ignored.json()["outcome"] == "ignored"
    stray_invoice = deliver(event("invoice.paid", {"id": "in_x", "object": "invoice", "customer": "cus_unknown"}))
    assert stray_invoice.json()["outcome"] == "unknown_customer"
