"""Stripe's webhook endpoint, on the platform host (one endpoint for every organisation)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import services

MAX_WEBHOOK_BYTES = 512 * 1024


class StripeWebhookApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []  # Stripe retries; the signature is the gate
    error_statuses = (502, 503)  # Stripe unreachable while fetching the current state (Stripe retries); disabled

    class OutputSerializer(serializers.Serializer):
        received = serializers.BooleanField()
        outcome = serializers.CharField()

    @extend_schema(request=None, responses={200: OutputSerializer}, operation_id="billing_webhook")
    def post(self, request: Request) -> Response:
        payload = request.body
        if len(payload) > MAX_WEBHOOK_BYTES:
            raise services.WebhookRefused("The payload is too large.", code="payload_too_large", status=413)
        event = services.webhook_event_verify(payload=payload, signature=request.headers.get("Stripe-Signature", ""))
        result = services.webhook_process(event=event)
        return Response(self.OutputSerializer({"received": True, "outcome": result.outcome}).data)
