from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse

from shared_apps.core.context import Actor, actor_var, request_id_var, tenant_var
from shared_apps.core.errors import code_for_status, error_response, suspicious_error
from shared_apps.core.health import readiness
from shared_apps.core.http import client_ip

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    """Gives every request an id (a valid incoming ``X-Request-ID`` is kept) and echoes it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        rid_token = request_id_var.set(request_id)
        tenant_token = tenant_var.set("-")
        actor_token = actor_var.set(
            Actor(
                kind="anonymous",
                channel="api",
                ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:300],
            )
        )
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(rid_token)
            tenant_var.reset(tenant_token)
            actor_var.reset(actor_token)
        response["X-Request-ID"] = request_id
        return response


class HealthCheckMiddleware:
    """``/healthz`` and ``/readyz`` answer on any host, before tenant resolution, so load
    balancers and orchestrators need no tenant domain."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/")
        if path == "/healthz":
            return JsonResponse({"status": "ok"})
        if path == "/readyz":
            ok, checks = readiness()
            return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)
        return self.get_response(request)


_HOP_HEADERS = frozenset({"content-type", "content-length"})


class ApiErrorShapeMiddleware:
    """``/api/`` answers errors in the common JSON shape whatever ``DEBUG`` says.

    API views render their own errors (``api_exception_handler``); what reaches this middleware as a
    non-JSON error is Django's own answer: the URL resolver's 404 (with ``DEBUG`` the page listing every
    URL pattern), the debug 500 page, or a refused suspicious request. Those are replaced, keeping the
    status and headers such as ``Allow``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path_info.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            replaced = error_response(
                response.status_code,
                code_for_status(response.status_code),
                response.reason_phrase.capitalize() + ".",
            )
            for name, value in response.items():
                if name.lower() not in _HOP_HEADERS:
                    replaced[name] = value
            return replaced
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, SuspiciousOperation) and request.path_info.startswith("/api/"):
            return error_response(*suspicious_error(exception))
        return None
