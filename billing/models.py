"""Billing state per organisation (public schema): the Stripe customer and subscription, the
subscription's state and period, the dunning grace deadline, an operator's manual override; the
monthly usage counters; the Stripe events already processed."""

from __future__ import annotations

from django.db import models

from shared_apps.tenants.models import Organisation


class BillingAccount(models.Model):
    class Status(models.TextChoices):
        NONE = "none"  # never subscribed: the free plan
        TRIALING = "trialing"
        ACTIVE = "active"
        PAST_DUE = "past_due"  # payment failed: works until grace_deadline, then restricted
        RESTRICTED = "restricted"  # staff read-only (exports allowed); respondents still answer
        CANCELED = "canceled"  # free limits

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="billing_account")
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    # The plan the subscription pays for (the effective plan is Organisation.plan).
    subscribed_plan = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NONE)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    grace_deadline = models.DateTimeField(null=True, blank=True)
    # An operator fixed the plan (update_tenant --plan): webhooks update the state, not the plan.
    manual_override = models.BooleanField(default=False)
    override_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.organisation_id}:{self.status}"


class UsageMonth(models.Model):
    """Responses received in one calendar month (UTC), counted in the submit transaction."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()  # the first day of the month
    responses = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "month"], name="billing_usage_one_per_month")]

    def __str__(self) -> str:
        return f"{self.organisation_id}:{self.month:%Y-%m}={self.responses}"


class StripeEvent(models.Model):
    """A webhook event processed once (Stripe retries and replays; the id is the idempotency key)."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.event_id
