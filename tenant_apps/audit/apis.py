from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.accounts.models import User
from shared_apps.core.openapi import paginated
from shared_apps.core.pagination import CursorPagination
from tenant_apps.apibase import TenantApi
from tenant_apps.audit.models import AuditEvent
from tenant_apps.audit.selectors import audit_event_list


class AuditCursor(CursorPagination):
    ordering = ("-occurred_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class AuditEventListApi(TenantApi):
    required_permission = "audit.view"

    class FilterSerializer(serializers.Serializer):
        action = serializers.CharField(max_length=64, required=False)
        actor_id = serializers.IntegerField(required=False, min_value=1)
        target_type = serializers.CharField(max_length=64, required=False)
        target_id = serializers.CharField(max_length=64, required=False)
        channel = serializers.ChoiceField(choices=AuditEvent.Channel.choices, required=False)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

        def validate(self, attrs: dict) -> dict:
            if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
                raise serializers.ValidationError({"until": ["'until' must be after 'since'."]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        occurred_at = serializers.DateTimeField()
        actor = serializers.SerializerMethodField()
        action = serializers.CharField()
        target_type = serializers.CharField()
        target_id = serializers.CharField()
        changes = serializers.JSONField()
        ip = serializers.IPAddressField(allow_null=True)
        user_agent = serializers.CharField()
        request_id = serializers.CharField()
        channel = serializers.CharField()

        def get_actor(self, event: AuditEvent) -> dict:
            emails = self.context.get("emails", {})
            return {"kind": event.actor_kind, "id": event.actor_id, "email": emails.get(event.actor_id)}

    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, required=False)
            for name in ("action", "actor_id", "target_type", "target_id", "channel", "since", "until", "cursor")
        ],
        responses={200: paginated(OutputSerializer(many=True), "PaginatedAuditEventList")},
        operation_id="audit_event_list",
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = AuditCursor()
        page = paginator.paginate_queryset(audit_event_list(**filters.validated_data), request, view=self) or []
        actor_ids = {event.actor_id for event in page if event.actor_id}
        emails = dict(User.objects.filter(pk__in=actor_ids).values_list("pk", "email")) if actor_ids else {}
        data = self.OutputSerializer(page, many=True, context={"emails": emails}).data
        return paginator.get_paginated_response(data)
