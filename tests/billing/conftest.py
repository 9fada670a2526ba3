"""Stripe peers for the billing tests: localstripe + the suite's own front server (see stripe_server.py),
started once per session on free ports and stopped at the end; the real ``stripe`` client points at them."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.billing.stripe_server import FakeStripe, StripeServers


@pytest.fixture(scope="session")
def stripe_servers() -> Iterator[StripeServers]:
    servers = StripeServers()
    previous = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = servers.url
    call_command("billing_sync", stdout=open("/dev/null", "w"))  # noqa: SIM115
    yield servers
    settings.STRIPE_API_BASE = previous
    servers.stop()


@pytest.fixture
def fake_stripe(stripe_servers: StripeServers) -> FakeStripe:
    return stripe_servers.fake


def sign(payload: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
    """Stripe's ``Stripe-Signature``: ``t=<unix time>,v1=<HMAC-SHA256 of "t.payload" with the endpoint secret>``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = (secret or settings.STRIPE_WEBHOOK_SECRET).encode()
    digest = hmac.new(key, f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }


@pytest.fixture
def deliver(public_client: Any) -> Callable[..., Any]:
    """``deliver(event, timestamp=None, secret=None)``: POST it to the webhook, genuinely signed."""

    def _deliver(evt: dict[str, Any], *, timestamp: int | None = None, secret: str | None = None) -> Any:
        payload = json.dumps(evt).encode()
        return public_client.generic(
            "POST",
            "/api/v1/billing/webhook/",
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(payload, timestamp=timestamp, secret=secret),
        )

    return _deliver
