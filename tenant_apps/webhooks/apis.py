"""Webhook endpoints: manage them, rotate their secret, read the delivery log, redeliver."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.core.openapi import paginated
from shared_apps.core.pagination import CursorPagination
from tenant_apps.apibase import TenantApi
from tenant_apps.webhooks import selectors, services
from tenant_apps.webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

PERMISSION = "webhook.manage"


class EndpointInput(serializers.Serializer):
    # A plain string: the scheme and destination checks are the service's (one error shape for both).
    url = serializers.CharField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1, max_length=len(EVENT_TYPES)
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EndpointPatch(serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1, max_length=len(EVENT_TYPES), required=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text="true re-enables a disabled endpoint.")


class EndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    consecutive_failures = serializers.IntegerField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class EndpointWithSecret(EndpointOutput):
    secret = serializers.CharField(help_text="Shown once: on creation and on rotation.")


class RotateInput(serializers.Serializer):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=services.MAX_OVERLAP_SECONDS,
        default=24 * 3600,
        help_text="How long the previous secret keeps signing next to the new one.",
    )


class DeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    redelivery_of = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class AttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    address = serializers.CharField()
    request_headers = serializers.DictField()
    request_body = serializers.CharField(help_text="An excerpt.")
    response_status = serializers.IntegerField(allow_null=True)
    response_headers = serializers.DictField()
    response_body = serializers.CharField(help_text="An excerpt.")
    error = serializers.CharField()
    succeeded = serializers.BooleanField()
    retry_at = serializers.DateTimeField(allow_null=True)


class DeliveryDetailOutput(DeliveryOutput):
    attempt_log = AttemptOutput(many=True)


def _endpoint(endpoint: WebhookEndpoint, *, secret: bool = False) -> dict[str, Any]:
    names: list[str] = [str(name) for name in EndpointOutput().fields if name != "id"]
    fields: dict[str, Any] = {name: getattr(endpoint, name) for name in names}
    fields["id"] = endpoint.pk
    if secret:
        return EndpointWithSecret({**fields, "secret": services.endpoint_secret(endpoint)}).data
    return EndpointOutput(fields).data


def _delivery(delivery: WebhookDelivery, *, log: bool = False) -> dict[str, Any]:
    fields = {
        "id": delivery.pk,
        "event_id": delivery.event.event_id,
        "event_type": delivery.event.type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "redelivery_of": delivery.redelivery_of_id,
        "created_at": delivery.created_at,
        "completed_at": delivery.completed_at,
    }
    if log:
        return DeliveryDetailOutput({**fields, "attempt_log": list(delivery.attempt_log.all())}).data
    return DeliveryOutput(fields).data


class Cursor(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50


class WebhookListApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "webhook"

    @extend_schema(
        responses={200: paginated(EndpointOutput(many=True), "PaginatedWebhookList")}, operation_id="webhook_list"
    )
    def get(self, request: Request) -> Response:
        paginator = Cursor()
        page = paginator.paginate_queryset(selectors.webhook_list(), request, view=self) or []
        return paginator.get_paginated_response([_endpoint(e) for e in page])

    @extend_schema(request=EndpointInput, responses={201: EndpointWithSecret}, operation_id="webhook_create")
    def post(self, request: Request) -> Response:
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_create(**data.validated_data, actor_id=getattr(request.user, "id", None))
        return Response(_endpoint(endpoint, secret=True), status=status.HTTP_201_CREATED)


class WebhookDetailApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "webhook"

    @extend_schema(responses={200: EndpointOutput}, operation_id="webhook_get")
    def get(self, request: Request, pk: int) -> Response:
        return Response(_endpoint(get_object_or_404(WebhookEndpoint, pk=pk)))

    @extend_schema(request=EndpointPatch, responses={200: EndpointOutput}, operation_id="webhook_update")
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        data = EndpointPatch(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(_endpoint(services.webhook_update(endpoint=endpoint, **data.validated_data)))

    @extend_schema(responses={204: None}, operation_id="webhook_delete")
    def delete(self, request: Request, pk: int) -> Response:
        services.webhook_delete(endpoint=get_object_or_404(WebhookEndpoint, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "webhook"

    @extend_schema(request=RotateInput, responses={200: EndpointWithSecret}, operation_id="webhook_rotate_secret")
    def post(self, request: Request, pk: int) -> Response:
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        data = RotateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_secret_rotate(endpoint=endpoint, **data.validated_data)
        return Response(_endpoint(endpoint, secret=True))


class WebhookDeliveryListApi(TenantApi):
    required_permission = PERMISSION

    @extend_schema(
        responses={200: paginated(DeliveryOutput(many=True), "PaginatedWebhookDeliveryList")},
        operation_id="webhook_delivery_list",
    )
    def get(self, request: Request, pk: int) -> Response:
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        paginator = Cursor()
        page = paginator.paginate_queryset(selectors.delivery_list(endpoint_id=endpoint.pk), request, view=self) or []
        return paginator.get_paginated_response([_delivery(d) for d in page])


class WebhookDeliveryDetailApi(TenantApi):
    required_permission = PERMISSION

    @extend_schema(responses={200: DeliveryDetailOutput}, operation_id="webhook_delivery_get")
    def get(self, request: Request, pk: int, delivery_id: int) -> Response:
        delivery = get_object_or_404(selectors.delivery_list(endpoint_id=pk), pk=delivery_id)
        return Response(_delivery(delivery, log=True))


class WebhookRedeliverApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "webhook_delivery"

    @extend_schema(request=None, responses={202: DeliveryOutput}, operation_id="webhook_redeliver")
    def post(self, request: Request, pk: int, delivery_id: int) -> Response:
        delivery = get_object_or_404(selectors.delivery_list(endpoint_id=pk).select_related("endpoint"), pk=delivery_id)
        again = services.delivery_redeliver(delivery=delivery, actor_id=getattr(request.user, "id", None))
        return Response(_delivery(again), status=status.HTTP_202_ACCEPTED)
