"""Self-service signup, verified by e-mail before anything is provisioned.

``organisation_signup`` validates, enforces the caps on unverified signups, and records the
organisation as ``pending_verification``: no domain, no schema, no user account (the admin's
password is kept hashed on the organisation). A Celery task e-mails a signed link that expires
after ``SIGNUP_VERIFICATION_HOURS``. ``signup_verify`` (single use: it moves the organisation out of
``pending_verification`` under a row lock) creates the admin account and the domain and starts
provisioning in the worker. Unverified signups are purged by beat (``signups_purge_expired``),
which frees their subdomains.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from shared_apps.accounts.models import User
from shared_apps.accounts.selectors import user_get_by_email
from shared_apps.tenants.cache import tenants_invalidate
from shared_apps.tenants.models import Domain, Organisation
from shared_apps.tenants.services.base import (
    Kind,
    Status,
    platform_url,
    signup_expiry_cutoff,
    slug_is_taken,
    slug_validate,
    tenant_domain,
)
from shared_apps.tenants.services.provisioning import tenant_register

logger = logging.getLogger(__name__)
SIGNUP_LOCK_KEY = 7_411_902_318  # pg_advisory_xact_lock key: one signup at a time passes the caps
SIGNUP_TOKEN_SALT = "shared_apps.tenants.signup-verification"  # noqa: S105 - a signing salt, not a secret


class SignupRefused(Exception):
    """A signup refused by a cap (not by its input): ``status`` 429 or 409, ``code`` for clients."""

    def __init__(self, message: str, *, code: str, status: int, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retry_after = retry_after


def _pending() -> QuerySet[Organisation]:
    return Organisation.objects.filter(
        kind=Kind.CUSTOMER, status=Status.PENDING_VERIFICATION, created_at__gte=signup_expiry_cutoff()
    )


def _caps_check(*, email: str) -> None:
    pending = _pending()
    if pending.count() >= settings.SIGNUP_PENDING_MAX:
        raise SignupRefused(
            "Too many signups are waiting for e-mail verification. Please try again later.",
            code="signup_capacity",
            status=429,
            retry_after=3600,
        )
    if pending.filter(signup_email__iexact=email).count() >= settings.SIGNUP_PENDING_PER_EMAIL:
        raise SignupRefused(
            f"This e-mail address already has {settings.SIGNUP_PENDING_PER_EMAIL} signups waiting for "
            "verification: follow the links we sent, or wait until they expire.",
            code="too_many_pending_signups",
            status=409,
        )


def organisation_signup(*, name: str, slug: str, admin_email: str, password: str) -> Organisation:
    """Validate and record an unverified organisation; e-mail the verification link once this
    transaction commits. The password is hashed here and never leaves this process. Raises
    ValidationError keyed by input field (all problems at once), or SignupRefused (caps)."""
    from shared_apps.tenants.tasks import signup_verification_email_task

    email = admin_email.strip().lower()
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["organisation_name"] = ["An organisation name is required."]
    try:
        slug_validate(slug)
        if (
            slug_is_taken(slug)
            and not Organisation.objects.filter(
                slug=slug, status=Status.PENDING_VERIFICATION, created_at__lt=signup_expiry_cutoff()
            ).exists()
        ):
            raise ValidationError(f"The subdomain {slug!r} is already taken.", code="slug_taken")
    except ValidationError as exc:
        errors["subdomain"] = exc.messages
    existing = user_get_by_email(email=email)
    if existing is not None and not existing.check_password(password):
        errors["admin_email"] = ["An account with this email exists; give its password to add an organisation."]
    elif existing is None:
        try:
            validate_password(password, user=User(email=email))
        except ValidationError as exc:
            errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # Signups are serialised (a transaction-scoped advisory lock), so concurrent requests cannot
        # all pass the caps before any of them is recorded.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SIGNUP_LOCK_KEY])
        _caps_check(email=email)
        organisation = tenant_register(
            slug=slug,
            name=name,
            signup_email=email,
            signup_password_hash="" if existing else make_password(password),
        )
        transaction.on_commit(lambda: signup_verification_email_task.delay(organisation_id=organisation.pk))
    logger.info("signup recorded, awaiting e-mail verification", extra={"tenant": organisation.schema_name})
    return organisation


def signup_token(*, organisation: Organisation) -> str:
    return signing.dumps({"o": str(organisation.public_id), "e": organisation.signup_email}, salt=SIGNUP_TOKEN_SALT)


def signup_verification_email(*, organisation_id: int) -> tuple[str, str, str] | None:
    """(to, subject, body) of the verification e-mail, or None when it is no longer needed."""
    organisation = Organisation.objects.filter(pk=organisation_id, status=Status.PENDING_VERIFICATION).first()
    if organisation is None or organisation.created_at < signup_expiry_cutoff():
        return None
    link = f"{platform_url()}signup/verify/?{urlencode({'token': signup_token(organisation=organisation)})}"
    body = (
        f"Someone (we hope you) asked to create the organisation {organisation.name!r} at "
        f"{tenant_domain(organisation.slug)} with this e-mail address.\n\n"
        f"Confirm it: {link}\n\n"
        f"The link works once and expires in {settings.SIGNUP_VERIFICATION_HOURS} hours. "
        "If you did not ask, ignore this e-mail: nothing is created without it.\n"
    )
    return organisation.signup_email, f"Confirm your organisation {organisation.name}", body


def signup_verify(*, token: str) -> tuple[Organisation, User]:
    """Check the link's token and start provisioning (in the worker, once this commits). Single use:
    a second use, an expired or a forged token raises ValidationError on ``token``."""
    from shared_apps.tenants.tasks import tenant_provision_task

    max_age = dt.timedelta(hours=settings.SIGNUP_VERIFICATION_HOURS)
    try:
        data = signing.loads(token, salt=SIGNUP_TOKEN_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ValidationError({"token": ["This link has expired. Please sign up again."]}) from exc
    except signing.BadSignature as exc:
        raise ValidationError({"token": ["This link is not valid."]}) from exc
    with transaction.atomic():
        organisation = (
            Organisation.objects.select_for_update()
            .filter(public_id=data.get("o"), kind=Kind.CUSTOMER, signup_email=data.get("e"))
            .first()
        )
        if organisation is None:
            raise ValidationError({"token": ["This link has expired. Please sign up again."]})
        if organisation.status != Status.PENDING_VERIFICATION:
            raise ValidationError({"token": ["This link was already used."]})
        admin = user_get_by_email(email=organisation.signup_email)
        if admin is None:
            admin = User.objects.create_user(email=organisation.signup_email)
            admin.password = organisation.signup_password or admin.password
            admin.save(update_fields=["password"])
        organisation.status = Status.PROVISIONING
        organisation.created_by = admin
        organisation.signup_password = ""
        organisation.save(update_fields=["status", "created_by", "signup_password", "updated_at"])
        Domain.objects.create(domain=tenant_domain(organisation.slug), tenant=organisation, is_primary=True)
        admin_id = admin.pk
        transaction.on_commit(lambda: tenant_provision_task.delay(organisation_id=organisation.pk, admin_id=admin_id))
    tenants_invalidate()
    logger.info("signup verified, provisioning", extra={"tenant": organisation.schema_name})
    return organisation, admin


def signups_pending(*, older_than: dt.timedelta | None = None) -> list[Organisation]:
    """Unverified signups (oldest first); with ``older_than``, only those at least that old."""
    qs = Organisation.objects.filter(kind=Kind.CUSTOMER, status=Status.PENDING_VERIFICATION)
    if older_than is not None:
        qs = qs.filter(created_at__lte=timezone.now() - older_than)
    return list(qs.order_by("created_at"))


def signups_purge_expired(*, older_than: dt.timedelta | None = None) -> list[str]:
    """Delete unverified signups older than ``older_than`` (default: ``SIGNUP_VERIFICATION_HOURS``),
    freeing their subdomains. They have no schema and no domain. Returns the purged subdomains."""
    if older_than is None:
        older_than = dt.timedelta(hours=settings.SIGNUP_VERIFICATION_HOURS)
    with transaction.atomic():
        qs = Organisation.objects.select_for_update().filter(
            kind=Kind.CUSTOMER, status=Status.PENDING_VERIFICATION, created_at__lte=timezone.now() - older_than
        )
        slugs = list(qs.values_list("slug", flat=True))
        Organisation.objects.filter(slug__in=slugs, status=Status.PENDING_VERIFICATION).delete()
    if slugs:
        logger.info("purged unverified signups", extra={"slugs": slugs})
    return slugs
