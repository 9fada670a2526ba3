"""One JSON error shape for every 4xx/5xx the platform answers:

    {"error": {"code": "not_found", "message": "Human readable.", "details": {...}, "request_id": "..."}}

``details`` maps field names to lists of messages for validation errors and is omitted otherwise.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from shared_apps.core.context import request_id_var
from shared_apps.core.health import RETRY_AFTER_SECONDS, is_unavailable

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    error["request_id"] = request_id_var.get()
    return {"error": error}


def error_response(
    status_code: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JsonResponse:
    response = JsonResponse(error_body(code, message, details), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is None and is_unavailable(exc):
        return service_unavailable_response(exc)
    if response is None:
        logger.exception("unhandled error in API view", exc_info=exc)
        return Response(
            error_body("server_error", "Internal server error."), status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    if isinstance(exc, exceptions.ValidationError):
        details = _flatten(exc.detail)
        if isinstance(details, list):
            details = {"non_field_errors": details}
        body = error_body(str(exc.default_code), "The request is invalid.", details)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else "The request failed."
        body = error_body(str(exc.default_code), message)
    else:  # Http404, PermissionDenied mapped by DRF
        code = "not_found" if response.status_code == 404 else "permission_denied"
        body = error_body(code, str(getattr(exc, "args", [""])[0] or code.replace("_", " ").capitalize() + "."))
    response.data = body
    return response


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(404, "not_found", "Not found.")


def service_unavailable_response(exc: BaseException) -> Response:
    """PostgreSQL or Redis is down or restarting: a clean 503 the client may retry, not a 500."""
    logger.warning("backing service unavailable", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
    return Response(
        error_body("service_unavailable", "The service is temporarily unavailable. Try again shortly."),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def handler500(request: HttpRequest) -> JsonResponse:
    # Django calls this while handling the exception (raised outside DRF views, e.g. in the tenant middleware).
    exc = sys.exc_info()[1]
    if is_unavailable(exc):
        logger.warning("backing service unavailable", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
        return error_response(
            503,
            "service_unavailable",
            "The service is temporarily unavailable. Try again shortly.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return error_response(500, "server_error", "Internal server error.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(403, "permission_denied", "Permission denied.")


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(400, "bad_request", "Bad request.")
