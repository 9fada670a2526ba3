"""Provisioning: bootstrap the platform, register an organisation, claim a spare schema or clone
the template schema, secure and verify it (RLS), seed it (the seeders tenant apps registered),
create at once (operator).

DDL runs on the ``owner`` database alias (the owner role); everything else on ``default``
(the application role). Provisioning is all-or-nothing: the clone and the RLS set-up are one
owner transaction, and if a later step fails the schema is dropped and the organisation is
marked failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_tenants.clone import CLONE_SCHEMA_FUNCTION
from django_tenants.utils import schema_exists, tenant_context
from psycopg import sql

from shared_apps.accounts.models import User
from shared_apps.accounts.services import password_generate, user_get_or_create
from shared_apps.core import registry, rls
from shared_apps.core.tenancy import current_schema, tenant_connection
from shared_apps.tenants.cache import tenants_invalidate
from shared_apps.tenants.models import Domain, Organisation, schema_name_for_slug
from shared_apps.tenants.services.base import (
    Kind,
    Status,
    TenantError,
    owner_cursor,
    signup_expiry_cutoff,
    slug_is_taken,
    slug_validate,
    tenant_domain,
    tenant_url,
)
from shared_apps.tenants.services.spares import spare_claim

logger = logging.getLogger(__name__)


# --- platform bootstrap (runs after the public schema is migrated) -------------------------


def platform_bootstrap() -> None:
    """Idempotent, as the owner role: grants on the public schema, the clone function, the
    public organisation with the platform domain, and the template organisation + schema."""
    with owner_cursor() as raw:
        raw.execute("SELECT current_user")
        owner = raw.fetchone()[0]
        raw.execute(CLONE_SCHEMA_FUNCTION.format(db_user=owner))
        raw.execute("REVOKE ALL ON FUNCTION public.clone_schema(text, text, public.cloneparms[]) FROM PUBLIC")
        raw.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.TENANT_TEMPLATE_SCHEMA)))
        rls.grant_public_schema(raw, app_role=settings.DATABASE_APP_ROLE)

    public, _ = Organisation.objects.get_or_create(
        schema_name="public",
        defaults={"slug": "platform", "name": "Platform", "kind": Kind.PUBLIC, "status": Status.ACTIVE},
    )
    Domain.objects.get_or_create(domain=settings.PLATFORM_DOMAIN, defaults={"tenant": public, "is_primary": True})
    Organisation.objects.get_or_create(
        schema_name=settings.TENANT_TEMPLATE_SCHEMA,
        defaults={"slug": "template", "name": "Tenant template", "kind": Kind.TEMPLATE, "status": Status.ACTIVE},
    )


def schema_secure(*, schema_name: str) -> int:
    """Re-apply grants and RLS to one tenant schema, as the owner role."""
    with owner_cursor() as raw:
        return rls.secure_schema(raw, schema_name=schema_name, app_role=settings.DATABASE_APP_ROLE)


# --- create ------------------------------------------------------------------------------


def tenant_register(
    *,
    slug: str,
    name: str,
    plan: str = Organisation.Plan.FREE,
    created_by: User | None = None,
    signup_email: str = "",
    signup_password_hash: str = "",
) -> Organisation:
    """Record a new organisation and reserve its subdomain. No schema yet.

    Without ``signup_email`` (operator, demo) it is ``provisioning`` and gets its domain at once.
    With it (self-service signup) it is ``pending_verification``: no domain, no schema, until the
    e-mail address is verified (``signup_verify``)."""
    slug_validate(slug)
    if not name.strip():
        raise ValidationError("An organisation name is required.", code="required")
    if plan not in Organisation.Plan.values:
        raise ValidationError(f"Unknown plan {plan!r}; choose one of {', '.join(Organisation.Plan.values)}.")
    with transaction.atomic():
        # A failed earlier attempt, or an unverified signup that expired, must not hold the subdomain.
        Organisation.objects.filter(slug=slug, status=Status.FAILED).delete()
        Organisation.objects.filter(
            slug=slug, status=Status.PENDING_VERIFICATION, created_at__lt=signup_expiry_cutoff()
        ).delete()
        if slug_is_taken(slug):
            raise ValidationError(f"The subdomain {slug!r} is already taken.", code="slug_taken")
        organisation = Organisation.objects.create(
            schema_name=schema_name_for_slug(slug),
            slug=slug,
            name=name.strip(),
            plan=plan,
            status=Status.PENDING_VERIFICATION if signup_email else Status.PROVISIONING,
            created_by=created_by,
            signup_email=signup_email,
            signup_password=signup_password_hash,
        )
        if not signup_email:
            Domain.objects.create(domain=tenant_domain(slug), tenant=organisation, is_primary=True)
    return organisation


def schema_clone_into(raw: Any, *, schema_name: str) -> None:
    """In the caller's owner transaction: clone the template into ``schema_name``, secure it, verify it."""
    template = settings.TENANT_TEMPLATE_SCHEMA
    raw.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [template])
    if raw.fetchone() is None:
        raise TenantError(f"The template schema {template!r} is missing: run `python manage.py migrate`.")
    raw.execute(sql.SQL("SELECT count(*) FROM {}.django_migrations").format(sql.Identifier(template)))
    if raw.fetchone()[0] == 0:
        raise TenantError(f"The template schema {template!r} is not migrated: run `python manage.py migrate`.")
    raw.execute("SELECT public.clone_schema(%s, %s, 'DATA')", [template, schema_name])
    rls.secure_schema(raw, schema_name=schema_name, app_role=settings.DATABASE_APP_ROLE)
    _schema_verify(raw, schema_name=schema_name)


def _schema_verify(raw: Any, *, schema_name: str) -> None:
    # In the same transaction as the clone or the claim: a schema that is not isolated is never committed.
    (report,) = rls.inspect_schemas(raw, schema_names=[schema_name], app_role=settings.DATABASE_APP_ROLE)
    if report.problems or report.tables == 0:
        raise TenantError(f"The schema {schema_name!r} failed its isolation check: {report.problems[:3]}")


def _schema_make(*, schema_name: str) -> str:
    """Claim a spare schema (rename + policies rewritten) or, when the pool is empty, clone the template.
    One owner transaction either way, verified before commit. Returns ``"spare"`` or ``"clone"``."""
    with owner_cursor() as raw:
        if spare_claim(raw, schema_name=schema_name) is not None:
            _schema_verify(raw, schema_name=schema_name)
            return "spare"
        schema_clone_into(raw, schema_name=schema_name)
        return "clone"


def _schema_drop(*, schema_name: str) -> None:
    if schema_name in ("public", settings.TENANT_TEMPLATE_SCHEMA):
        raise TenantError(f"Refusing to drop the {schema_name!r} schema.")
    with owner_cursor() as raw:
        raw.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema_name)))


def _tenant_seed(*, organisation: Organisation, admin: User | None, demo: bool) -> None:
    """First data inside the new schema, as the application role (RLS applies): the audit entry, then
    every registered seeder in order, in one transaction."""
    context = registry.SeedContext(organisation=organisation, admin=admin, demo=demo)
    with tenant_context(organisation), transaction.atomic():
        registry.audit(
            action="tenant.provisioned",
            target_type="organisation",
            target_id=organisation.slug,
            changes={"plan": organisation.plan},
        )
        for seeder in registry.seeders():
            seeder.seed(context)


def tenant_provision(*, organisation: Organisation, admin: User | None, demo: bool = False) -> Organisation:
    """Claim a spare schema (or clone the template) for the organisation, seed it, mark it active.
    On any failure: drop what was made, mark the organisation failed, and re-raise."""
    if organisation.status != Status.PROVISIONING:
        raise TenantError(f"Organisation {organisation.slug!r} is {organisation.status}, not provisioning.")
    if current_schema() != "public":
        raise TenantError("Tenants are provisioned from the public schema.")
    try:
        how = _schema_make(schema_name=organisation.schema_name)
        _tenant_seed(organisation=organisation, admin=admin, demo=demo)
    except Exception as exc:
        logger.exception("tenant provisioning failed", extra={"tenant": organisation.schema_name})
        tenant_connection().set_schema_to_public()
        if schema_exists(organisation.schema_name):
            _schema_drop(schema_name=organisation.schema_name)
        Domain.objects.filter(tenant=organisation).delete()
        Organisation.objects.filter(pk=organisation.pk).update(
            status=Status.FAILED, status_reason=str(exc)[:500] or type(exc).__name__, updated_at=timezone.now()
        )
        organisation.status = Status.FAILED
        tenants_invalidate()
        raise
    organisation.status = Status.ACTIVE
    organisation.provisioned_at = timezone.now()
    organisation.save(update_fields=["status", "provisioned_at", "updated_at"])
    tenants_invalidate()
    logger.info("tenant provisioned", extra={"tenant": organisation.schema_name, "schema_from": how})
    return organisation


@dataclass(frozen=True)
class TenantCreated:
    organisation: Organisation
    admin: User
    admin_created: bool
    generated_password: str | None
    url: str


def tenant_create(
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_password: str | None = None,
    plan: str = Organisation.Plan.FREE,
    demo: bool = False,
) -> TenantCreated:
    """Synchronous creation, for the operator CLI and the demo set-up."""
    generated = None
    if admin_password is None and not User.objects.filter(email__iexact=admin_email).exists():
        generated = admin_password = password_generate()
    slug_validate(slug)
    if slug_is_taken(slug):
        raise ValidationError(f"The subdomain {slug!r} is already taken.", code="slug_taken")
    admin, created = user_get_or_create(email=admin_email, password=admin_password)
    organisation = tenant_register(slug=slug, name=name, plan=plan, created_by=admin)
    tenant_provision(organisation=organisation, admin=admin, demo=demo)
    return TenantCreated(organisation, admin, created, generated if created else None, tenant_url(organisation))
