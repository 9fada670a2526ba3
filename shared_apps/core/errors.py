"""One JSON error shape for every 4xx/5xx the platform answers:

    {"error": {"code": "not_found", "message": "Human readable.", "details": {...}, "request_id": "..."}}

``details`` maps field names to lists of messages for validation errors and is omitted otherwise.

Services raise :class:`DomainError` (or a subclass with its own ``code``/``status``) or Django's
``ValidationError``; :func:`api_exception_handler` maps both to HTTP, once, for every API view:
views never catch and re-map them.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from shared_apps.core.context import request_id_var
from shared_apps.core.health import RETRY_AFTER_SECONDS, is_unavailable

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal a service can explain: ``code`` (machine), ``message`` (human), ``status`` (HTTP).

    Subclasses set ``code``/``status`` as class attributes; a raise site may override them.
    """

    code: str = "refused"
    status: int = 400

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details

    def __str__(self) -> str:
        return self.message


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


def suspicious_error(exc: SuspiciousOperation) -> tuple[int, str, str]:
    """Django's refusals of a hostile request: (status, code, message)."""
    if isinstance(exc, RequestDataTooBig):
        return 413, "payload_too_large", "The request body is too large."
    if isinstance(exc, TooManyFieldsSent):
        return 400, "too_many_fields", "The request has too many form fields."
    if isinstance(exc, TooManyFilesSent):
        return 400, "too_many_files", "The request has too many files."
    if isinstance(exc, DisallowedHost):
        return 400, "invalid_host", "The request's Host header is not served here."
    return 400, "bad_request", "Bad request."


def _django_validation_details(exc: DjangoValidationError) -> dict[str, Any]:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        retry_after = getattr(exc, "retry_after", None)  # e.g. the key service is down: 503, retry shortly
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status, headers=headers)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_details(exc))
    if isinstance(exc, SuspiciousOperation):
        set_rollback()
        status_code, code, message = suspicious_error(exc)
        return Response(error_body(code, message), status=status_code)
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
    else:  # Http404 (e.g. an unknown ?format=), PermissionDenied mapped by DRF; may carry no message
        code = "not_found" if response.status_code == 404 else "permission_denied"
        message = str(exc.args[0]) if exc.args and exc.args[0] else code.replace("_", " ").capitalize() + "."
        body = error_body(code, message)
    response.data = body
    return response


_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}


def code_for_status(status_code: int) -> str:
    return _STATUS_CODES.get(status_code, "server_error" if status_code >= 500 else "bad_request")


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
    if isinstance(exception, SuspiciousOperation):
        return error_response(*suspicious_error(exception))
    return error_response(400, "bad_request", "Bad request.")


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """The catch-all for unknown ``/api/`` URLs: the JSON 404 whatever DEBUG says (Django's debug
    404 page would otherwise list every URL pattern)."""
    return error_response(404, "not_found", "Not found.")
