"""Organisations (tenants) and their domains: public schema."""

from __future__ import annotations

import functools
import re
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
# Subdomains an organisation may not take: platform hosts, infrastructure and look-alikes.
RESERVED_SLUGS = frozenset(
    [
        "admin",
        "administrator",
        "api",
        "app",
        "apps",
        "assets",
        "auth",
        "billing",
        "blog",
        "cdn",
        "console",
        "dashboard",
        "demo-admin",
        "dev",
        "docs",
        "ftp",
        "help",
        "imap",
        "internal",
        "login",
        "mail",
        "media",
        "metrics",
        "mx",
        "ns",
        "ns1",
        "ns2",
        "operator",
        "pop",
        "postgres",
        "public",
        "redis",
        "root",
        "security",
        "signup",
        "smtp",
        "sso",
        "static",
        "staging",
        "status",
        "support",
        "system",
        "template",
        "test",
        "tenant",
        "tenants",
        "www",
    ]
)


RATE_RE = re.compile(r"^\d+/(s|sec|m|min|h|hour|d|day)$")


def validate_rate(value: str) -> None:
    if value and not RATE_RE.match(value):
        raise ValidationError(f"{value!r} is not a rate like '100/min'.")


def schema_name_for_slug(slug: str) -> str:
    """``acme-corp`` -> ``t_acme_corp``. Slugs have no underscores, so the mapping is one-to-one,
    and the prefix keeps tenant schemas apart from ``public`` and PostgreSQL's own."""
    return "t_" + slug.replace("-", "_")


def validate_timezone(value: str) -> None:
    """An IANA time zone name known to this system (``Europe/Paris``)."""
    if value not in _timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone, e.g. Europe/Paris.")


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class Organisation(TenantMixin):
    class Status(models.TextChoices):
        # Self-service signup whose e-mail is not verified yet: no domain, no schema.
        PENDING_VERIFICATION = "pending_verification"
        PROVISIONING = "provisioning"
        ACTIVE = "active"
        SUSPENDED = "suspended"
        PENDING_DELETION = "pending_deletion"
        FAILED = "failed"

    class Kind(models.TextChoices):
        CUSTOMER = "customer"
        PUBLIC = "public"  # the platform itself (public schema)
        TEMPLATE = "template"  # the migrated schema that new tenants are cloned from

    class Plan(models.TextChoices):
        FREE = "free"
        TEAM = "team"
        BUSINESS = "business"
        ENTERPRISE = "enterprise"

    # Schemas are created by shared_apps.tenants.services.provisioning (clone + RLS), never on save().
    auto_create_schema = False
    auto_drop_schema = False

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOMER)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROVISIONING, db_index=True)
    status_reason = models.CharField(max_length=500, blank=True)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.FREE)
    # Respondent-page branding: logo_url, primary_color, accent_color, css_vars (validated by the API).
    branding = models.JSONField(default=dict, blank=True)
    # Months of responses kept attached (older monthly partitions are detached); null: keep everything.
    retention_months = models.PositiveIntegerField(null=True, blank=True)
    # Days a soft-deleted response is kept before the purge job deletes it for good.
    deleted_retention_days = models.PositiveIntegerField(default=30)
    # IANA time zone of the organisation's reports (analytics time series bucket days and weeks in it).
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    # Rate limits for this organisation, e.g. "300/min"; blank: the platform defaults.
    rate_limit_user = models.CharField(max_length=20, blank=True, validators=[validate_rate])
    rate_limit_anon = models.CharField(max_length=20, blank=True, validators=[validate_rate])
    # Self-service signup, until verified: the admin's e-mail and password hash (blank: an existing
    # account); the hash is cleared on verification.
    signup_email = models.EmailField(blank=True, db_index=True)
    signup_password = models.CharField(max_length=128, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("slug",)

    def __str__(self) -> str:
        return self.slug

    @property
    def is_customer(self) -> bool:
        return self.kind == self.Kind.CUSTOMER


class Domain(DomainMixin):
    pass
