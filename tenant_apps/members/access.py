"""Who is calling and what they may do: the Principal, its cache, authentication and permission checks.

A Principal is a user's effective access in one tenant (membership state, role, permissions). It is
read from an in-process cache (PERMISSIONS_L1_SECONDS), then Redis (PERMISSIONS_L2_SECONDS), then
PostgreSQL; any role or membership change invalidates it at once in every process (the two-level
cache of ``shared_apps.core.cache``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import TokenError

from shared_apps.accounts.models import User
from shared_apps.core.cache import TenantCache
from shared_apps.core.context import actor_var
from shared_apps.core.tenancy import current_schema
from tenant_apps.members import tokens
from tenant_apps.members.models import Membership


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as DRF's ``request.user``."""

    id: int
    email: str
    role: str
    role_name: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    active: bool = True
    family: str = ""

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> int:
        return self.id

    def has(self, permission: str) -> bool:
        return permission in self.permissions


def _encode(principal: Principal) -> bytes:
    return json.dumps({**asdict(principal), "permissions": sorted(principal.permissions)}).encode()


def _decode(raw: bytes) -> Principal:
    data = json.loads(raw)
    return Principal(**{**data, "permissions": frozenset(data["permissions"])})


PRINCIPALS: TenantCache[Principal] = TenantCache(
    "perm",
    l1_seconds=settings.PERMISSIONS_L1_SECONDS,
    l2_seconds=settings.PERMISSIONS_L2_SECONDS,
    encode=_encode,
    decode=_decode,
)


def _load(user_id: int) -> Principal | None:
    membership = (
        Membership.objects.select_related("role")
        .filter(user_id=user_id)
        .only("is_active", "role__slug", "role__name", "role__permissions")
        .first()
    )
    user = User.objects.filter(pk=user_id).only("email", "is_active").first()
    if membership is None or user is None:
        return None
    return Principal(
        id=user_id,
        email=user.email,
        role=membership.role.slug,
        role_name=membership.role.name,
        permissions=frozenset(membership.role.permissions),
        active=membership.is_active and user.is_active,
    )


def principal_get(user_id: int) -> Principal | None:
    """The user's effective access in the current tenant (None: not a member)."""
    return PRINCIPALS.get(current_schema(), user_id, load=lambda: _load(user_id))


def principals_invalidate(*, user_id: int | None = None) -> None:
    """Forget cached access for one user, or for everyone in the current tenant, in every process,
    once the current transaction commits."""
    PRINCIPALS.invalidate(current_schema(), user_id)


# --- DRF authentication and permission -----------------------------------------------------


class TenantJWTAuthentication(BaseAuthentication):
    """``Authorization: Bearer <access token>``. The token must name this host's tenant, its family
    must be alive, and the user must have an active membership here."""

    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[Principal, Any] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Bearer <token>'.")
        try:
            token = tokens.access_decode(header[1].decode())
        except (TokenError, UnicodeDecodeError) as exc:
            raise exceptions.AuthenticationFailed("The access token is invalid or expired.") from exc
        schema = current_schema()
        if token.get("tenant") != schema:
            raise exceptions.AuthenticationFailed("This token belongs to another organisation.")
        family = str(token.get("fam", ""))
        if not tokens.family_alive(schema=schema, family=family):
            raise exceptions.AuthenticationFailed("This session has ended; sign in again.")
        principal = principal_get(int(token["user_id"]))
        if principal is None or not principal.active:
            raise exceptions.AuthenticationFailed("You have no active membership in this organisation.")
        principal = replace(principal, family=family)
        actor_var.set(actor_var.get().with_user(principal.id))
        return principal, token

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'


class NoAuthentication(BaseAuthentication):
    """For public endpoints (sign-in, refresh): ignores any Authorization header, but lets failures
    answer 401 with a ``WWW-Authenticate`` challenge rather than DRF's 403."""

    def authenticate(self, request: Request) -> None:
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class NotDeclared:
    """Marker: an API that forgot to declare its permission is refused (and fails a test)."""


NOT_DECLARED = NotDeclared()
# An API open to anonymous callers declares ``required_permission = PUBLIC``; one open to every
# active member declares ``MEMBER``.
PUBLIC = "public"
MEMBER = "member"


class HasTenantPermission(BasePermission):
    message = "You do not have permission to do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        declared = getattr(view, "required_permission", NOT_DECLARED)
        if isinstance(declared, dict):
            declared = declared.get(request.method or "", NOT_DECLARED)
        if isinstance(declared, NotDeclared):
            raise exceptions.PermissionDenied("This endpoint declares no permission; refusing.")
        if declared == PUBLIC:
            return True
        user = request.user
        if not isinstance(user, Principal):
            raise exceptions.NotAuthenticated()
        if declared == MEMBER:
            return True
        if not user.has(declared):
            self.message = f"You need the '{declared}' permission."
            return False
        return True


# --- OpenAPI --------------------------------------------------------------------------------------


class TenantJWTScheme(OpenApiAuthenticationExtension):
    """``bearerAuth`` in the schema (Swagger's Authorize button). Public endpoints also accept no token."""

    target_class = TenantJWTAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106  (the scheme's name, not a secret)
            bearer_format="JWT",
        )

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        declared = getattr(auto_schema.view, "required_permission", NOT_DECLARED)
        if isinstance(declared, dict):
            declared = declared.get(auto_schema.method, NOT_DECLARED)
        return [{self.name: []}, {}] if declared == PUBLIC else [{self.name: []}]


class NoAuthenticationScheme(OpenApiAuthenticationExtension):
    """Sign-in, refresh and the like: no credentials."""

    target_class = NoAuthentication
    name: list[str] = []  # no security scheme to register

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return []

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[Any]]:
        return {}
