"""Webhooks: endpoints (create, change, rotate the secret, delete), fan-out of domain events to
deliveries, one delivery attempt at a time, retries, auto-disable, redelivery.

Domain events reach ``on_domain_event`` inside the emitting transaction; it costs one cached lookup
when no endpoint subscribes, and otherwise sends one ``webhook_event_dispatch`` task once that
transaction commits (a rolled-back write announces nothing). The dispatch task records the event
and one delivery per subscribed endpoint, and queues each delivery."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from shared_apps.core.cache import TenantCache
from shared_apps.core.errors import DomainError
from shared_apps.core.tenancy import current_schema
from tenant_apps.audit.services import audit_record
from tenant_apps.members.models import Membership
from tenant_apps.notifications.services import email_enqueue
from tenant_apps.pii.services import SealContext, reveal, seal
from tenant_apps.webhooks import schedule, signing, transport
from tenant_apps.webhooks.models import (
    EVENT_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookNotice,
)

logger = logging.getLogger(__name__)

API_VERSION = "2026-12-01"
USER_AGENT = "SurveyPlatform-Webhooks/1"
MAX_OVERLAP_SECONDS = 7 * 24 * 3600
# Fields of an event's data that are never sent (a pseudonymous respondent key is not the receiver's business).
PRIVATE_FIELDS = {"response.completed": ("respondent_key",)}

Status = WebhookDelivery.Status


class WebhookError(DomainError):
    code = "webhook_invalid"
    status = 400


# Which events have at least one active endpoint in a tenant: read on every domain event (the submit
# path included), so cached; changed endpoints invalidate it everywhere after commit.
SUBSCRIPTIONS: TenantCache[list[str]] = TenantCache(
    "webhook-subscriptions",
    l1_seconds=30,
    l2_seconds=600,
    encode=lambda v: json.dumps(v).encode(),
    decode=lambda b: list(json.loads(b)),
)


def _subscribed(schema: str) -> set[str]:
    def load() -> list[str]:
        events: set[str] = set()
        for row in WebhookEndpoint.objects.filter(is_active=True).values_list("events", flat=True):
            events.update(row)
        return sorted(events)

    return set(SUBSCRIPTIONS.get(schema, "events", load) or [])


def _subscriptions_changed() -> None:
    SUBSCRIPTIONS.invalidate(current_schema(), "events")


# --- events in ------------------------------------------------------------------------------------


def envelope_build(*, event: str, data: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    private = PRIVATE_FIELDS.get(event, ())
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": event,
        "api_version": API_VERSION,
        "created_at": (now or timezone.now()).isoformat(),
        "data": {k: v for k, v in data.items() if k not in private},
    }


def on_domain_event(event: str, payload: dict[str, Any]) -> None:
    """Registered for every domain event (``WebhooksConfig.ready``)."""
    schema = current_schema()
    if event not in _subscribed(schema):
        return
    envelope = envelope_build(event=event, data=payload)

    def send() -> None:
        from tenant_apps.webhooks.tasks import webhook_event_dispatch

        webhook_event_dispatch.delay(schema_name=schema, envelope=envelope)

    transaction.on_commit(send)


def event_dispatch(*, envelope: dict[str, Any]) -> int:
    """Record the event and a delivery per active endpoint subscribed to it; idempotent (a redelivered
    task finds the event and its deliveries). Returns the number of deliveries queued."""
    created_at = datetime.fromisoformat(envelope["created_at"])
    body = json.dumps(envelope, separators=(",", ":"), sort_keys=True, default=str)
    with transaction.atomic():
        event, _ = WebhookEvent.objects.get_or_create(
            event_id=envelope["id"], defaults={"type": envelope["type"], "body": body, "created_at": created_at}
        )
        queued = 0
        for endpoint in WebhookEndpoint.objects.filter(is_active=True, events__contains=[event.type]):
            delivery, created = WebhookDelivery.objects.get_or_create(
                endpoint=endpoint,
                event=event,
                redelivery_of=None,
                defaults={"next_attempt_at": timezone.now()},
            )
            if created or delivery.status == Status.PENDING:
                _enqueue(delivery.pk)
                queued += 1
    return queued


def _enqueue(delivery_id: int, countdown: float = 0) -> None:
    schema = current_schema()

    def send() -> None:
        from tenant_apps.webhooks.tasks import webhook_deliver

        webhook_deliver.apply_async(kwargs={"schema_name": schema, "delivery_id": delivery_id}, countdown=countdown)

    transaction.on_commit(send)


# --- endpoints ------------------------------------------------------------------------------------


def _check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise WebhookError(
            f"Unknown event types: {', '.join(unknown)}.",
            code="unknown_event",
            details={"known": list(EVENT_TYPES)},
        )
    if not events:
        raise WebhookError("Subscribe to at least one event.", code="no_events")
    return sorted(set(events))


def webhook_create(
    *, url: str, events: list[str], description: str = "", actor_id: int | None = None
) -> WebhookEndpoint:
    events = _check_events(events)
    transport.resolve(url)  # http(s) only, and a public destination (unless allowed)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url, events=events, description=description, created_by_id=actor_id
        )
        endpoint.secret = _sealed(endpoint, signing.new_secret())
        endpoint.save(update_fields=["secret"])
        audit_record(
            action="webhook.create",
            target_type="webhook",
            target_id=endpoint.pk,
            changes={"url": url, "events": events},
        )
        _subscriptions_changed()
    return endpoint


def webhook_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    changes: dict[str, Any] = {}
    if url is not None and url != endpoint.url:
        transport.resolve(url)
        endpoint.url = changes["url"] = url
    if events is not None:
        endpoint.events = changes["events"] = _check_events(events)
    if description is not None:
        endpoint.description = description
    if is_active is not None and is_active != endpoint.is_active:
        endpoint.is_active = changes["is_active"] = is_active
        if is_active:
            endpoint.consecutive_failures = 0
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
        else:
            endpoint.disabled_at = timezone.now()
            endpoint.disabled_reason = "Disabled by a member."
    with transaction.atomic():
        endpoint.save()
        if is_active is False:
            _cancel_pending(endpoint)
        audit_record(action="webhook.update", target_type="webhook", target_id=endpoint.pk, changes=changes)
        _subscriptions_changed()
    return endpoint


def webhook_delete(*, endpoint: WebhookEndpoint) -> None:
    with transaction.atomic():
        pk = endpoint.pk
        endpoint.delete()
        audit_record(action="webhook.delete", target_type="webhook", target_id=pk)
        _subscriptions_changed()


def webhook_secret_rotate(*, endpoint: WebhookEndpoint, overlap_seconds: int) -> WebhookEndpoint:
    """A new secret; the current one keeps signing (next to the new one) for ``overlap_seconds``."""
    if not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
        raise WebhookError(f"The overlap must be between 0 and {MAX_OVERLAP_SECONDS} seconds.", code="invalid_overlap")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if overlap_seconds:
            endpoint.previous_secret = endpoint.secret
            endpoint.previous_secret_expires_at = timezone.now() + timedelta(seconds=overlap_seconds)
        else:
            endpoint.previous_secret = ""
            endpoint.previous_secret_expires_at = None
        endpoint.secret = _sealed(endpoint, signing.new_secret())
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        audit_record(
            action="webhook.rotate_secret",
            target_type="webhook",
            target_id=endpoint.pk,
            changes={"overlap_seconds": overlap_seconds},
        )
    return endpoint


def _secret_context(endpoint: WebhookEndpoint) -> SealContext:
    # Bound to the endpoint (not the field), so rotation moves the current secret to ``previous_secret`` as is.
    return SealContext(survey_id="webhooks", submission=str(endpoint.pk), field="secret")


def _sealed(endpoint: WebhookEndpoint, secret: str) -> str:
    return seal(secret, _secret_context(endpoint))


def endpoint_secret(endpoint: WebhookEndpoint, *, previous: bool = False) -> str:
    """The endpoint's signing secret in clear (secrets stored before sealing are read as they are)."""
    return str(reveal(endpoint.previous_secret if previous else endpoint.secret, _secret_context(endpoint)))


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    valid = [endpoint_secret(endpoint)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        valid.append(endpoint_secret(endpoint, previous=True))
    return valid


# --- deliveries -----------------------------------------------------------------------------------


def delivery_redeliver(*, delivery: WebhookDelivery, actor_id: int | None = None) -> WebhookDelivery:
    """Send the same event (same id and body) to the endpoint again, as a new delivery."""
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        raise WebhookError(
            "This endpoint is disabled; enable it before redelivering.", code="webhook_disabled", status=409
        )
    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=delivery.event_id,
            redelivery_of=delivery,
            requested_by_id=actor_id,
            next_attempt_at=timezone.now(),
        )
        audit_record(
            action="webhook.redeliver",
            target_type="webhook_delivery",
            target_id=delivery.pk,
            changes={"new_delivery": again.pk},
        )
        _enqueue(again.pk)
    return again


def _due() -> Q:
    now = timezone.now()
    return Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(status=Status.SENDING, locked_until__lt=now)


def _cancel_pending(endpoint: WebhookEndpoint) -> int:
    return WebhookDelivery.objects.filter(endpoint=endpoint, status=Status.PENDING).update(
        status=Status.CANCELLED, completed_at=timezone.now(), next_attempt_at=None, last_error="Endpoint disabled."
    )


def _request_headers(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, number: int, body: bytes, now: datetime
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Survey-Event-Id": delivery.event.event_id,
        "Survey-Event-Type": delivery.event.type,
        "Survey-Delivery-Id": str(delivery.pk),
        "Survey-Delivery-Attempt": str(number),
        signing.HEADER: signing.signature_header(
            secrets_=signing_secrets(endpoint, now), timestamp=int(now.timestamp()), body=body
        ),
    }


def delivery_attempt(*, delivery_id: int) -> str:
    """Claim the delivery if it is due, POST it once, record the attempt and what happens next.
    Returns the delivery's status afterwards, or ``skipped`` when it was not due (a duplicate message)."""
    lease = timezone.now() + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 60)
    claimed = WebhookDelivery.objects.filter(_due(), pk=delivery_id).update(status=Status.SENDING, locked_until=lease)
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint", "event").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=Status.CANCELLED, locked_until=None, completed_at=timezone.now(), last_error="Endpoint disabled."
        )
        return Status.CANCELLED
    body = delivery.event.body.encode()
    number = delivery.attempts + 1
    started_at = timezone.now()
    headers = _request_headers(endpoint, delivery, number, body, started_at)
    result = transport.post(url=endpoint.url, body=body, headers=headers)
    return _record(delivery=delivery, number=number, started_at=started_at, headers=headers, result=result)


def _record(
    *,
    delivery: WebhookDelivery,
    number: int,
    started_at: datetime,
    headers: dict[str, str],
    result: transport.Result,
) -> str:
    ok = result.status is not None and 200 <= result.status < 300 and not result.error
    error = result.error or ("" if ok else f"HTTP {result.status}")
    now = timezone.now()
    retry_at: datetime | None = None
    wait = 0.0
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        if ok:
            status = Status.SUCCEEDED
            if endpoint.consecutive_failures:
                endpoint.consecutive_failures = 0
                endpoint.save(update_fields=["consecutive_failures"])
        else:
            endpoint.consecutive_failures += 1
            endpoint.save(update_fields=["consecutive_failures"])
            elapsed = (now - delivery.created_at).total_seconds()
            next_wait = schedule.within_window(wait=schedule.delay(number), elapsed=elapsed)
            if next_wait is not None:
                wait = next_wait
                status, retry_at = Status.PENDING, now + timedelta(seconds=wait)
            else:
                status = Status.FAILED
            if endpoint.is_active and endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES:
                _disable(endpoint)
                if status == Status.PENDING:
                    status, retry_at = Status.CANCELLED, None
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started_at,
            duration_ms=result.duration_ms,
            address=result.address,
            request_headers=headers,
            request_body=delivery.event.body[: settings.WEBHOOK_EXCERPT_BYTES],
            response_status=result.status,
            response_headers=result.headers,
            response_body=result.body,
            error=error[:300],
            succeeded=ok,
            retry_at=retry_at,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status,
            attempts=number,
            next_attempt_at=retry_at,
            locked_until=None,
            last_status_code=result.status,
            last_error=error[:300],
            completed_at=None if status == Status.PENDING else now,
        )
        if retry_at is not None and wait <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:
            # Later retries are picked up by the per-tenant sweep (no hours-long ETA messages in Redis).
            _enqueue(delivery.pk, countdown=wait)
    logger.info(
        "webhook attempt",
        extra={
            "schema": current_schema(),
            "delivery_id": delivery.pk,
            "attempt": number,
            "status": result.status,
            "outcome": status,
            "retry_in": round(wait, 2) if retry_at else None,
        },
    )
    return str(status)


def _disable(endpoint: WebhookEndpoint) -> None:
    endpoint.is_active = False
    endpoint.disabled_at = timezone.now()
    endpoint.disabled_reason = f"{endpoint.consecutive_failures} failed deliveries in a row."
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason", "updated_at"])
    _cancel_pending(endpoint)
    audit_record(
        action="webhook.auto_disable",
        target_type="webhook",
        target_id=endpoint.pk,
        changes={"consecutive_failures": endpoint.consecutive_failures},
    )
    for user_id in Membership.objects.filter(
        is_active=True, role__permissions__contains=["webhook.manage"]
    ).values_list("user_id", flat=True):
        notice = WebhookNotice.objects.create(endpoint=endpoint, user_id=user_id)
        email_enqueue(kind="webhook_disabled", object_id=notice.pk)
    _subscriptions_changed()


def deliveries_sweep(*, limit: int = 500) -> int:
    """Queue deliveries that are due (retries scheduled beyond the countdown limit, lost messages,
    leases of killed workers)."""
    ids = list(WebhookDelivery.objects.filter(_due()).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    with transaction.atomic():
        for delivery_id in ids:
            _enqueue(delivery_id)
    return len(ids)
