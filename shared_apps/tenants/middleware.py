"""Resolves the organisation from the request host and switches the connection to its schema.

Unknown hosts get the common JSON 404; organisations that are not active get a clear status:
provisioning 503 (with Retry-After), suspended 403, deleted or failed 404.

Host names are case-insensitive and a trailing dot is ignored (``ACME.localhost.`` is ``acme.localhost``);
the port never identifies a tenant (``acme.localhost:9999`` is acme). ``www.<platform domain>`` is the
platform host; no other ``www.`` prefix is stripped (``www.acme.<platform domain>`` is an unknown host).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_tenant_domain_model

from shared_apps.core.context import tenant_var
from shared_apps.core.errors import error_response
from shared_apps.core.tenancy import tenant_connection
from shared_apps.tenants.cache import organisation_for_host
from shared_apps.tenants.models import Organisation

Status = Organisation.Status


class TenantMiddleware(TenantMainMiddleware):
    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        """The validated Host header, lower-cased, without port or trailing dot (see the module doc)."""
        hostname, _port = split_domain_port(request.get_host())
        if hostname == f"www.{settings.PLATFORM_DOMAIN}":
            return str(settings.PLATFORM_DOMAIN)
        return hostname

    def get_tenant(self, domain_model: Any, hostname: str) -> Organisation:
        """From the process cache (see ``shared_apps.tenants.cache``), else one query."""

        def load() -> Organisation | None:
            try:
                return super(TenantMiddleware, self).get_tenant(domain_model, hostname)
            except domain_model.DoesNotExist:
                return None

        tenant = organisation_for_host(hostname, load)
        if tenant is None:
            raise domain_model.DoesNotExist
        return tenant

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        tenant_connection().set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return error_response(400, "invalid_host", "The request's Host header is not served here.")
        domain_model = get_tenant_domain_model()
        try:
            tenant = self.get_tenant(domain_model, hostname)
        except domain_model.DoesNotExist:
            return error_response(404, "tenant_not_found", f"No organisation is served at {hostname!r}.")

        if tenant.kind == Organisation.Kind.CUSTOMER and tenant.status != Status.ACTIVE:
            blocked = self._blocked_response(tenant)
            if blocked is not None:
                return blocked

        tenant.domain_url = hostname
        request.tenant = tenant  # type: ignore[attr-defined]
        tenant_connection().set_tenant(tenant)
        tenant_var.set(tenant.schema_name)
        self.setup_url_routing(request)
        return None

    @staticmethod
    def _blocked_response(tenant: Organisation) -> HttpResponse | None:
        if tenant.status == Status.SUSPENDED:
            return error_response(
                403,
                "tenant_suspended",
                "This organisation is suspended. Its data is kept; contact the platform's support to restore access.",
            )
        if tenant.status == Status.PROVISIONING:
            return error_response(
                503,
                "tenant_provisioning",
                "This organisation is being set up. Try again shortly.",
                headers={"Retry-After": "5"},
            )
        return error_response(404, "tenant_not_found", "No organisation is served at this address.")
