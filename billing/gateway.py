"""The one place that talks to Stripe: a configured ``stripe.StripeClient`` and its errors mapped to ours.

Objects come back as plain dicts (``to_dict``), so the rest of the app reads Stripe's wire format."""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings

from shared_apps.core.errors import DomainError


class BillingDisabled(DomainError):
    code = "billing_disabled"
    status = 503


class PaymentProviderError(DomainError):
    code = "payment_provider_error"
    status = 502


def client() -> stripe.StripeClient:
    if not settings.BILLING_ENABLED or not settings.STRIPE_SECRET_KEY:
        raise BillingDisabled("Billing is not enabled on this platform.")
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=2,
    )


def as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    data: dict[str, Any] = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return data


def call(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``fn(*args, **kwargs)`` as a dict; Stripe's errors become a 502 (404: None is not returned, raised)."""
    try:
        return as_dict(fn(*args, **kwargs))
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            raise NotFoundAtStripe(str(exc.user_message or exc)) from exc
        raise PaymentProviderError(f"Stripe refused the request: {exc.user_message or exc}") from exc
    except stripe.StripeError as exc:
        raise PaymentProviderError(f"Stripe is unavailable: {exc.user_message or type(exc).__name__}") from exc


class NotFoundAtStripe(PaymentProviderError):
    code = "not_found_at_stripe"
