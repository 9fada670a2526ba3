"""Rate limits counted in Redis (the default cache), so they hold across processes. The rates come
from the organisation when it sets its own (``Organisation.rate_limit_anon/_user``), else from settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class _TenantRateMixin:
    """Uses the organisation's own rate when it sets one (``tenant_field``), else the setting."""

    tenant_field = ""

    def use_tenant_rate(self, request: Request) -> None:
        tenant = getattr(request._request, "tenant", None)
        rate = getattr(tenant, self.tenant_field, None) or None
        if rate:
            self.rate = rate
            self.num_requests, self.duration = self.parse_rate(rate)  # type: ignore[attr-defined]


class TenantAnonRateThrottle(_TenantRateMixin, AnonRateThrottle):
    tenant_field = "rate_limit_anon"

    def allow_request(self, request: Request, view: Any) -> bool:
        if getattr(request.user, "is_authenticated", False):
            return True
        self.use_tenant_rate(request)
        return super().allow_request(request, view)


class TenantUserRateThrottle(_TenantRateMixin, UserRateThrottle):
    tenant_field = "rate_limit_user"

    def allow_request(self, request: Request, view: Any) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return True
        self.use_tenant_rate(request)
        return super().allow_request(request, view)


class SignupIpThrottle(SimpleRateThrottle):
    """Signups per client IP (``SIGNUP_RATE_PER_IP``; the IP honours ``TRUSTED_PROXY_COUNT``)."""

    scope = "signup_ip"

    def get_rate(self) -> str:
        return str(settings.SIGNUP_RATE_PER_IP)

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignupGlobalThrottle(SimpleRateThrottle):
    """Signups across the whole platform (``SIGNUP_RATE_GLOBAL``): a ceiling however many IPs are used."""

    scope = "signup_global"

    def get_rate(self) -> str:
        return str(settings.SIGNUP_RATE_GLOBAL)

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": "all"}
