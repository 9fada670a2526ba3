"""Tenant lifecycle: register, provision (clone the template + RLS), suspend, resume, delete, purge.

DDL runs on the ``owner`` database alias (the owner role); everything else on ``default``
(the application role). Provisioning is all-or-nothing: the clone and the RLS set-up are one
owner transaction, and if a later step fails the schema is dropped and the organisation is
marked failed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone
from django_tenants.clone import CLONE_SCHEMA_FUNCTION
from django_tenants.utils import schema_exists, tenant_context
from psycopg import sql

from shared_apps.accounts.models import User
from shared_apps.accounts.services import password_generate, user_get_or_create
from shared_apps.core import rls
from shared_apps.core.errors import DomainError
from shared_apps.core.tenancy import current_schema, tenant_connection
from shared_apps.tenants.cache import tenants_invalidate
from shared_apps.tenants.models import (
    RESERVED_SLUGS,
    SLUG_RE,
    Domain,
    Organisation,
    schema_name_for_slug,
)

logger = logging.getLogger(__name__)
Status = Organisation.Status
Kind = Organisation.Kind
OWNER_DB = "owner"


class TenantError(DomainError):
    """A tenant operation that cannot be done, with a message for the operator or user."""

    code = "tenant_refused"


# --- helpers -----------------------------------------------------------------------------


def tenant_domain(slug: str) -> str:
    return f"{slug}.{settings.PLATFORM_DOMAIN}"


def tenant_url(organisation: Organisation) -> str:
    port = settings.PLATFORM_PORT
    default_port = {"http": "80", "https": "443"}.get(settings.PLATFORM_SCHEME)
    suffix = f":{port}" if port and port != default_port else ""
    return f"{settings.PLATFORM_SCHEME}://{tenant_domain(organisation.slug)}{suffix}/"


def slug_validate(slug: str) -> None:
    """Raises ValidationError with a message a person can act on."""
    if not SLUG_RE.match(slug):
        raise ValidationError(
            "A subdomain is 3 to 40 characters: lowercase letters, digits and hyphens, "
            "starting with a letter and not ending with a hyphen.",
            code="invalid_slug",
        )
    if "--" in slug:
        raise ValidationError("A subdomain may not contain two hyphens in a row.", code="invalid_slug")
    if slug in RESERVED_SLUGS or slug.startswith(("pg-", "xn--")):
        raise ValidationError(f"The subdomain {slug!r} is reserved.", code="reserved_slug")


def slug_is_taken(slug: str) -> bool:
    return Organisation.objects.filter(slug=slug).exclude(status=Status.FAILED).exists()


@contextmanager
def owner_cursor() -> Iterator[Any]:
    """A raw psycopg cursor on the owner role, in a transaction. The connection is closed
    afterwards: DDL is rare, and an idle owner connection must not linger in web or worker
    processes (nor be inherited by forked migration workers)."""
    owner = connections[OWNER_DB]
    try:
        with transaction.atomic(using=OWNER_DB), owner.cursor() as cursor:
            yield cursor.cursor
    finally:
        owner.close()


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
    *, slug: str, name: str, plan: str = Organisation.Plan.FREE, created_by: User | None = None
) -> Organisation:
    """Record a new organisation (status provisioning) and reserve its domain. No schema yet."""
    slug_validate(slug)
    if not name.strip():
        raise ValidationError("An organisation name is required.", code="required")
    if plan not in Organisation.Plan.values:
        raise ValidationError(f"Unknown plan {plan!r}; choose one of {', '.join(Organisation.Plan.values)}.")
    with transaction.atomic():
        # A failed earlier attempt must not hold the subdomain.
        Organisation.objects.filter(slug=slug, status=Status.FAILED).delete()
        if slug_is_taken(slug):
            raise ValidationError(f"The subdomain {slug!r} is already taken.", code="slug_taken")
        organisation = Organisation.objects.create(
            schema_name=schema_name_for_slug(slug),
            slug=slug,
            name=name.strip(),
            plan=plan,
            status=Status.PROVISIONING,
            created_by=created_by,
        )
        Domain.objects.create(domain=tenant_domain(slug), tenant=organisation, is_primary=True)
    return organisation


def _schema_clone(*, schema_name: str) -> None:
    template = settings.TENANT_TEMPLATE_SCHEMA
    with owner_cursor() as raw:
        raw.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [template])
        if raw.fetchone() is None:
            raise TenantError(f"The template schema {template!r} is missing: run `python manage.py migrate`.")
        raw.execute(sql.SQL("SELECT count(*) FROM {}.django_migrations").format(sql.Identifier(template)))
        if raw.fetchone()[0] == 0:
            raise TenantError(f"The template schema {template!r} is not migrated: run `python manage.py migrate`.")
        raw.execute("SELECT public.clone_schema(%s, %s, 'DATA')", [template, schema_name])
        rls.secure_schema(raw, schema_name=schema_name, app_role=settings.DATABASE_APP_ROLE)
        # Verify, in the same transaction: a clone that is not isolated is never committed.
        (report,) = rls.inspect_schemas(raw, schema_names=[schema_name], app_role=settings.DATABASE_APP_ROLE)
        if report.problems or report.tables == 0:
            raise TenantError(f"The clone of {schema_name!r} failed its isolation check: {report.problems[:3]}")


def _schema_drop(*, schema_name: str) -> None:
    if schema_name in ("public", settings.TENANT_TEMPLATE_SCHEMA):
        raise TenantError(f"Refusing to drop the {schema_name!r} schema.")
    with owner_cursor() as raw:
        raw.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema_name)))


def _tenant_seed(*, organisation: Organisation, admin: User | None, demo: bool) -> None:
    """First data inside the new schema, as the application role (RLS applies)."""
    from tenant_apps.audit.services import audit_record
    from tenant_apps.members.permissions import ADMIN_ROLE
    from tenant_apps.members.services import membership_ensure
    from tenant_apps.surveys.services import survey_create_demo

    with tenant_context(organisation), transaction.atomic():
        audit_record(
            action="tenant.provisioned",
            target_type="organisation",
            target_id=organisation.slug,
            changes={"plan": organisation.plan},
        )
        if admin is not None:
            membership_ensure(user=admin, role_slug=ADMIN_ROLE)
        if demo:
            survey_create_demo(created_by_id=admin.pk if admin else None)


def tenant_provision(*, organisation: Organisation, admin: User | None, demo: bool = False) -> Organisation:
    """Clone the template into the organisation's schema, secure it, seed it, mark it active.
    On any failure: drop what was made, mark the organisation failed, and re-raise."""
    if organisation.status != Status.PROVISIONING:
        raise TenantError(f"Organisation {organisation.slug!r} is {organisation.status}, not provisioning.")
    if current_schema() != "public":
        raise TenantError("Tenants are provisioned from the public schema.")
    try:
        _schema_clone(schema_name=organisation.schema_name)
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
    logger.info("tenant provisioned", extra={"tenant": organisation.schema_name})
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


# --- lifecycle ----------------------------------------------------------------------------


def _customer(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug, kind=Kind.CUSTOMER).first()
    if organisation is None:
        raise TenantError(f"No organisation with the subdomain {slug!r}.")
    return organisation


def _audit_in_tenant(organisation: Organisation, action: str, changes: dict[str, Any]) -> None:
    """Record a platform action on an organisation in that organisation's own audit log (and drop the
    cached organisations in every process: every caller changed one)."""
    from tenant_apps.audit.services import audit_record

    tenants_invalidate()
    with tenant_context(organisation):
        audit_record(action=action, target_type="organisation", target_id=organisation.slug, changes=changes)


def tenant_suspend(*, slug: str, reason: str = "") -> Organisation:
    organisation = _customer(slug)
    if organisation.status != Status.ACTIVE:
        raise TenantError(f"Organisation {slug!r} is {organisation.status}; only an active one can be suspended.")
    organisation.status = Status.SUSPENDED
    organisation.status_reason = reason[:500]
    organisation.suspended_at = timezone.now()
    organisation.save(update_fields=["status", "status_reason", "suspended_at", "updated_at"])
    _audit_in_tenant(organisation, "tenant.suspended", {"reason": reason[:200]})
    logger.info("tenant suspended", extra={"tenant": organisation.schema_name})
    return organisation


def tenant_resume(*, slug: str) -> Organisation:
    organisation = _customer(slug)
    if organisation.status != Status.SUSPENDED:
        raise TenantError(f"Organisation {slug!r} is {organisation.status}; only a suspended one can be resumed.")
    organisation.status = Status.ACTIVE
    organisation.status_reason = ""
    organisation.suspended_at = None
    organisation.save(update_fields=["status", "status_reason", "suspended_at", "updated_at"])
    _audit_in_tenant(organisation, "tenant.resumed", {})
    logger.info("tenant resumed", extra={"tenant": organisation.schema_name})
    return organisation


def tenant_update(*, slug: str, **changes: str) -> Organisation:
    """Change name, plan or rate limits. Validates every field before saving any."""
    allowed = {"name", "plan", "rate_limit_user", "rate_limit_anon"}
    if set(changes) - allowed:
        raise TenantError(f"Cannot change {sorted(set(changes) - allowed)}.")
    organisation = _customer(slug)
    before = {key: getattr(organisation, key) for key in changes}
    for key, value in changes.items():
        setattr(organisation, key, value.strip())
    organisation.full_clean(exclude=["schema_name", "slug", "created_by", "public_id"])
    organisation.save(update_fields=[*changes, "updated_at"])
    _audit_in_tenant(organisation, "tenant.updated", {"before": before, "after": changes})
    return organisation


def tenant_soft_delete(*, slug: str) -> Organisation:
    """Mark for deletion: the organisation stops answering at once, and its schema is purged
    after TENANT_PURGE_GRACE_DAYS by the beat task (or at once with tenant_hard_delete)."""
    organisation = _customer(slug)
    if organisation.status == Status.PENDING_DELETION:
        raise TenantError(
            f"Organisation {slug!r} is already scheduled for purge at {organisation.purge_after:%Y-%m-%d %H:%M} UTC."
        )
    now = timezone.now()
    organisation.status = Status.PENDING_DELETION
    organisation.deleted_at = now
    organisation.purge_after = now + timedelta(days=settings.TENANT_PURGE_GRACE_DAYS)
    organisation.save(update_fields=["status", "deleted_at", "purge_after", "updated_at"])
    _audit_in_tenant(organisation, "tenant.deleted", {"purge_after": organisation.purge_after.isoformat()})
    logger.info("tenant scheduled for purge", extra={"tenant": organisation.schema_name})
    return organisation


def tenant_hard_delete(*, slug: str) -> str:
    """Drop the schema and the organisation's rows. Irreversible. Returns the dropped schema."""
    organisation = _customer(slug)
    schema_name = organisation.schema_name
    _schema_drop(schema_name=schema_name)
    organisation.delete()  # domains cascade; auto_drop_schema is off, the schema is already gone
    tenants_invalidate()
    logger.warning("tenant purged", extra={"tenant": schema_name})
    return schema_name


def tenant_purge_due() -> list[str]:
    """Purge every organisation whose grace period has passed. Run by beat."""
    due = Organisation.objects.filter(
        kind=Kind.CUSTOMER, status=Status.PENDING_DELETION, purge_after__lte=timezone.now()
    ).values_list("slug", flat=True)
    return [tenant_hard_delete(slug=slug) for slug in list(due)]


# --- self-service signup -----------------------------------------------------------------


def organisation_signup(*, name: str, slug: str, admin_email: str, password: str) -> Organisation:
    """Validate, record the organisation and its admin account, and provision it in a task
    (queue ``high_priority``) once this transaction commits. The password is hashed here and
    never leaves this process. Raises ValidationError keyed by input field, all problems at once."""
    from django.contrib.auth.password_validation import validate_password

    from shared_apps.tenants.tasks import tenant_provision_task

    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["organisation_name"] = ["An organisation name is required."]
    try:
        slug_validate(slug)
        if slug_is_taken(slug):
            raise ValidationError(f"The subdomain {slug!r} is already taken.", code="slug_taken")
    except ValidationError as exc:
        errors["subdomain"] = exc.messages
    existing = User.objects.filter(email__iexact=admin_email.strip()).first()
    if existing is not None and not existing.check_password(password):
        errors["admin_email"] = ["An account with this email exists; give its password to add an organisation."]
    elif existing is None:
        try:
            validate_password(password, user=User(email=admin_email))
        except ValidationError as exc:
            errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        admin = existing or user_get_or_create(email=admin_email, password=password)[0]
        organisation = tenant_register(slug=slug, name=name, created_by=admin)
        transaction.on_commit(lambda: tenant_provision_task.delay(organisation_id=organisation.pk, admin_id=admin.pk))
    return organisation


# --- partitions ---------------------------------------------------------------------------


# Monthly-partitioned tables in every tenant schema.
PARTITIONED_TABLES = ("audit_event", "responses_submission", "responses_answer")


RETAINED_TABLES = ("responses_submission", "responses_answer")


def partitions_maintain(*, today: dt.date | None = None, months_ahead: int = 3) -> dict[str, list[str]]:
    """Daily, per tenant schema (and the template): create the coming months' partitions, detach
    response partitions older than the organisation's retention, re-secure the schema (RLS on the new
    partitions), and log an alert when rows landed in a default partition. Returns what changed."""
    from shared_apps.core.partitions import default_partition_rows, detach_old_partitions, ensure_monthly_partitions

    today = today or timezone.now().date()
    organisations = (
        Organisation.objects.exclude(kind=Kind.PUBLIC)
        .exclude(status=Status.FAILED)
        .only("schema_name", "retention_months")
    )
    changed: dict[str, list[str]] = {}
    for organisation in organisations:
        schema_name = organisation.schema_name
        with owner_cursor() as raw:
            raw.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
            if raw.fetchone() is None:
                continue
            names = []
            for table in PARTITIONED_TABLES:
                names += ensure_monthly_partitions(
                    raw, schema_name=schema_name, table=table, today=today, months_back=0, months_ahead=months_ahead
                )
                stray = default_partition_rows(raw, schema_name=schema_name, table=table)
                if stray:
                    logger.error(
                        "rows in a default partition: create the missing partition and move them",
                        extra={"tenant": schema_name, "table": table, "rows": stray, "alert": True},
                    )
            if organisation.retention_months:
                from shared_apps.core.partitions import add_months

                keep_from = add_months(today.replace(day=1), -organisation.retention_months)
                for table in RETAINED_TABLES:
                    names += [
                        f"detached:{n}"
                        for n in detach_old_partitions(raw, schema_name=schema_name, table=table, keep_from=keep_from)
                    ]
            if names:
                rls.secure_schema(raw, schema_name=schema_name, app_role=settings.DATABASE_APP_ROLE)
                changed[schema_name] = names
    return changed


# --- branding -------------------------------------------------------------------------------------


def tenant_branding_set(*, organisation: Organisation, branding: dict[str, Any]) -> Organisation:
    """Validate and store the respondent-page branding: logo URL, two colours, CSS variables."""
    import re

    errors: dict[str, list[str]] = {}
    allowed = {"logo_url", "primary_color", "accent_color", "css_vars"}
    for key in set(branding) - allowed:
        errors[key] = [f"Unknown branding setting; use {', '.join(sorted(allowed))}."]
    logo = branding.get("logo_url")
    if logo is not None and not (isinstance(logo, str) and re.fullmatch(r"https?://[^\s\"'<>]{3,500}", logo)):
        errors["logo_url"] = ["An http(s) URL."]
    for key in ("primary_color", "accent_color"):
        if key in branding and not re.fullmatch(r"#[0-9a-fA-F]{6}", str(branding[key])):
            errors[key] = ["A colour like #1a2b3c."]
    css_vars = branding.get("css_vars", {})
    if (
        not isinstance(css_vars, dict)
        or len(css_vars) > 20
        or not all(
            re.fullmatch(r"[a-z][a-z0-9-]{0,40}", str(k))
            and isinstance(v, str)
            and re.fullmatch(r"[#\w\s.,()%-]{1,80}", v)
            for k, v in css_vars.items()
        )
    ):
        errors["css_vars"] = ["Up to 20 name -> value pairs; names like 'radius', values like '12px' or '#fff'."]
    if errors:
        raise ValidationError(errors)
    before = organisation.branding
    organisation.branding = branding
    organisation.save(update_fields=["branding", "updated_at"])
    tenants_invalidate()
    from tenant_apps.audit.services import audit_record

    audit_record(
        action="tenant.branding_updated",
        target_type="organisation",
        target_id=organisation.slug,
        changes={"before": before, "after": branding},
    )
    return organisation
