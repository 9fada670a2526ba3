"""Tenant services, by concern. The public names are re-exported here, so callers keep importing
``from shared_apps.tenants.services import tenant_create, tenant_url, ...``.

- ``base``: the error, URLs, slug rules, the owner connection;
- ``provisioning``: bootstrap, register, clone + secure + verify, seed, create;
- ``lifecycle``: suspend, resume, update, delete, purge;
- ``signup``: self-service signup verified by e-mail;
- ``branding``: the one branding validator (organisations and surveys);
- ``partitions``: monthly partitions of the registered tables;
- ``spares``: the pool of spare schemas provisioning claims instead of cloning.
"""

from shared_apps.tenants.services.base import (
    TenantError,
    customer_get,
    owner_cursor,
    platform_url,
    slug_is_taken,
    slug_validate,
    tenant_domain,
    tenant_url,
)
from shared_apps.tenants.services.branding import (
    BRANDING_KEYS,
    branding_errors,
    branding_validate,
    tenant_branding_set,
)
from shared_apps.tenants.services.lifecycle import (
    tenant_hard_delete,
    tenant_purge_due,
    tenant_resume,
    tenant_soft_delete,
    tenant_suspend,
    tenant_update,
)
from shared_apps.tenants.services.partitions import partitions_maintain
from shared_apps.tenants.services.provisioning import (
    TenantCreated,
    platform_bootstrap,
    schema_secure,
    tenant_create,
    tenant_provision,
    tenant_register,
)
from shared_apps.tenants.services.signup import (
    SignupRefused,
    organisation_signup,
    signup_token,
    signup_verification_email,
    signup_verify,
    signups_pending,
    signups_purge_expired,
)
from shared_apps.tenants.services.spares import (
    spares_count,
    spares_drop_all,
    spares_drop_stale,
    spares_fill,
)

__all__ = [
    "BRANDING_KEYS",
    "SignupRefused",
    "TenantCreated",
    "TenantError",
    "branding_errors",
    "branding_validate",
    "customer_get",
    "organisation_signup",
    "owner_cursor",
    "partitions_maintain",
    "platform_bootstrap",
    "platform_url",
    "schema_secure",
    "signup_token",
    "signup_verification_email",
    "signup_verify",
    "signups_pending",
    "signups_purge_expired",
    "slug_is_taken",
    "slug_validate",
    "spares_count",
    "spares_drop_all",
    "spares_drop_stale",
    "spares_fill",
    "tenant_branding_set",
    "tenant_create",
    "tenant_domain",
    "tenant_hard_delete",
    "tenant_provision",
    "tenant_purge_due",
    "tenant_register",
    "tenant_resume",
    "tenant_soft_delete",
    "tenant_suspend",
    "tenant_update",
    "tenant_url",
]
