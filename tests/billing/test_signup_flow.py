"""Signup -> checkout -> webhook -> limits raised, end to end: the real signup (worker, SMTP), the real
stripe client against localstripe and the suite's Checkout server, a genuinely signed webhook."""

from __future__ import annotations

import copy
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from billing.limits import month_start
from billing.models import UsageMonth
from shared_apps.tenants.models import Organisation
from tests.billing.conftest import event
from tests.conftest import host_of, login, unique_slug

GOOD = {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "Fast", "q_features": ["logic", "analytics"]}
PASSWORD = "a-Long-enough-passphrase-42"


def submit(tenant, survey):
    return Client(HTTP_HOST=host_of(tenant)).post(
        f"/api/v1/s/{survey.public_link}/submit/", {"answers": GOOD}, content_type="application/json"
    )


@pytest.mark.worker
def test_signup_checkout_webhook_raises_the_limits(  # noqa: PLR0917 - pytest fixtures
    public_client, celery_worker_process, smtp_server, fake_stripe, deliver, capsys
):
    slug = unique_slug("bill")
    email = f"owner@{slug}.test"
    signup = public_client.post(
        "/api/v1/signup/",
        {"organisation_name": "Billing Org", "subdomain": slug, "admin_email": email, "password": PASSWORD},
        content_type="application/json",
    )
    assert signup.status_code == 202, signup.content
    body = smtp_server.wait_for(email).get_payload(decode=True).decode()
    token = parse_qs(urlsplit(re.search(r"https?://\S+/signup/verify/\?token=\S+", body).group(0)).query)["token"][0]
    assert (
        public_client.post("/api/v1/signup/verify/", {"token": token}, content_type="application/json").status_code
        == 202
    )
    organisation = _wait_ready(slug)
    assert organisation.plan == "free"

    access = login(organisation, email, PASSWORD)["access"]
    admin = Client(HTTP_HOST=host_of(organisation), HTTP_AUTHORIZATION=f"Bearer {access}")
    before = admin.get("/api/v1/billing/").json()
    assert (before["plan"]["key"], before["status"]) == ("free", "none")
    assert before["usage"]["responses_per_month"] == {"used": 0, "limit": 100}

    # The free plan's 100 responses are used up: the next one is refused with the upgrade path.
    survey = admin.post("/api/v1/surveys/", {"title": "Feedback"}, content_type="application/json").json()
    from django_tenants.utils import tenant_context

    from tenant_apps.surveys import services
    from tenant_apps.surveys.models import Survey

    with tenant_context(organisation):
        published = services.survey_create_published(
            title="Feedback", definition=copy.deepcopy(services.DEMO_DEFINITION)
        )
        assert Survey.objects.filter(pk=survey["id"]).exists()
    UsageMonth.objects.update_or_create(organisation=organisation, month=month_start(), defaults={"responses": 100})
    refused = submit(organisation, published)
    assert refused.status_code == 402
    assert refused.json()["error"]["details"]["upgrade"]["plan"] == "team"

    checkout = admin.post("/api/v1/billing/checkout/", {"plan": "team"}, content_type="application/json")
    assert checkout.status_code == 201, checkout.content
    session = fake_stripe.checkout_complete(checkout.json()["id"])  # the customer pays on Stripe's page
    delivered = deliver(event("checkout.session.completed", copy.deepcopy(session)))
    assert delivered.json() == {"received": True, "outcome": "processed"}

    after = admin.get("/api/v1/billing/").json()
    assert after["plan"]["key"] == "team"
    assert after["status"] == "trialing"
    assert after["usage"]["responses_per_month"] == {"used": 100, "limit": 5000}
    assert after["usage"]["seats"]["limit"] == 10
    assert submit(organisation, published).status_code == 201  # the limit is raised at once
    audit = admin.get("/api/v1/audit/?action=billing.updated").json()
    entries = [e for e in audit.get("results", audit) if e["action"] == "billing.updated"]
    assert entries
    assert entries[0]["changes"]["after"]["plan"] == "team"
    with capsys.disabled():
        print(
            f"\nsignup {slug} (free, 100/100 used, submit -> 402) -> checkout {session['id']} -> "
            f"webhook checkout.session.completed -> plan team, {after['status']}, "
            f"responses {after['usage']['responses_per_month']}, submit -> 201"
        )


def _wait_for(predicate, timeout=90.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def _wait_ready(slug):
    return _wait_for(lambda: Organisation.objects.filter(slug=slug, status=Organisation.Status.ACTIVE).first())
