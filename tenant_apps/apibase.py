"""The base of every tenant API: JWT authentication, a declared permission, rate limits, audit.

Subclasses declare ``required_permission`` (a permission, ``MEMBER``, ``PUBLIC``, or a dict per
HTTP method). A successful create/update/delete that did not record an audit entry itself gets a
generic one, so nothing that changes data through the API goes unrecorded.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.selectors import is_restricted
from shared_apps.core.errors import DomainError
from shared_apps.tenants.models import Organisation
from tenant_apps.audit.services import audit_record, audit_recorded, audit_reset
from tenant_apps.members.access import (
    MEMBER,
    NOT_DECLARED,
    PUBLIC,
    HasTenantPermission,
    NotDeclared,
    TenantJWTAuthentication,
)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class TenantApi(APIView):
    authentication_classes = [TenantJWTAuthentication]
    permission_classes = [HasTenantPermission]
    required_permission: ClassVar[str | dict[str, str] | NotDeclared] = NOT_DECLARED
    audit_target_type: ClassVar[str] = ""
    # Respondent endpoints (drafts, submit) are not privileged actions and must stay off the database
    # on their hot path: they opt out of the generic audit entry.
    audit_generic: ClassVar[bool] = True
    # Writes still allowed while the organisation's billing is restricted (exports, paying).
    billing_exempt: ClassVar[bool] = False

    @property
    def organisation(self) -> Organisation:
        """The organisation whose host this request came to (resolved once by the tenant middleware)."""
        organisation: Organisation = self.request._request.tenant  # type: ignore[attr-defined]
        return organisation

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        audit_reset()
        super().initial(request, *args, **kwargs)
        if (
            request.method in MUTATING
            and not self.billing_exempt
            and self._staff_permission(request.method)
            and is_restricted(organisation_id=self.organisation.pk)
        ):
            raise DomainError(
                "Billing is restricted (unpaid subscription): the organisation is read-only until the payment "
                "method is updated. Exports still work.",
                code="billing_restricted",
                status=402,
            )

    def _staff_permission(self, method: str) -> bool:
        """A privileged staff action (a named permission): respondents (PUBLIC) and one's own account
        (MEMBER) are never restricted by billing."""
        declared = self.required_permission
        permission = declared.get(method) if isinstance(declared, dict) else declared
        return isinstance(permission, str) and permission not in (PUBLIC, MEMBER)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            self.audit_generic
            and request.method in MUTATING
            and 200 <= response.status_code < 300
            and not audit_recorded()
        ):
            audit_record(
                action=f"api.{type(self).__name__}.{(request.method or '').lower()}",
                target_type=self.audit_target_type,
                target_id=kwargs.get("pk", ""),
            )
        return response
