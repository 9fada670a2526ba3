"""Rate limits counted in Redis (the default cache), so they hold across processes. The rates come
from the organisation when it sets its own (``Organisation.rate_limit_anon/_user``), else from settings."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


def _tenant_rate(request: Request, field: str) -> str | None:
    tenant = getattr(request, "tenant", None) or getattr(request._request, "tenant", None)
    return getattr(tenant, field, None) or None


class TenantAnonRateThrottle(AnonRateThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        if request.user and getattr(request.user, "is_authenticated", False):
            return True
        rate = _tenant_rate(request, "rate_limit_anon")
        if rate:
            self.rate = rate
            self.num_requests, self.duration = self.parse_rate(rate)
        return super().allow_request(request, view)


class TenantUserRateThrottle(UserRateThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        if not (request.user and getattr(request.user, "is_authenticated", False)):
            return True
        rate = _tenant_rate(request, "rate_limit_user")
        if rate:
            self.rate = rate
            self.num_requests, self.duration = self.parse_rate(rate)
        return super().allow_request(request, view)
