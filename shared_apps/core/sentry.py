"""Sentry (``sentry-sdk``, Django and Celery integrations), switched on by ``SENTRY_DSN``.

Events carry the tenant (schema) and the request id as tags, so an error links to the request's JSON log
lines. Respondents' answers and personal data never leave: no default PII, no local variables, no request
bodies, cookies or query strings, only an allow-list of headers, and the user reduced to its id.
"""

from __future__ import annotations

from typing import Any

_SAFE_HEADERS = frozenset({"content-type", "content-length", "host", "user-agent", "x-request-id", "accept"})


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    from shared_apps.core.context import request_id_var, tenant_var

    tags = event.setdefault("tags", {})
    tags.setdefault("tenant", tenant_var.get())
    tags.setdefault("request_id", request_id_var.get())
    request = event.get("request")
    if isinstance(request, dict):
        for field in ("data", "cookies", "query_string", "env"):
            request.pop(field, None)
        headers = request.get("headers") or {}
        request["headers"] = {name: value for name, value in headers.items() if name.lower() in _SAFE_HEADERS}
        if "url" in request:
            request["url"] = str(request["url"]).split("?", 1)[0]
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    for breadcrumb in (event.get("breadcrumbs") or {}).get("values", []):
        breadcrumb.pop("data", None)
    return event


def sentry_init(*, dsn: str, environment: str, release: str | None = None) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=before_send,  # type: ignore[arg-type]
        traces_sample_rate=0.0,
    )
