"""Privacy endpoints (``privacy.manage``): data-subject requests (access, erasure) with their receipts,
and the organisation's portability export."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.core.openapi import paginated
from shared_apps.core.pagination import CursorPagination
from tenant_apps.apibase import TenantApi
from tenant_apps.privacy import portability, services
from tenant_apps.privacy.models import SubjectRequest, TenantExport

PERMISSION = "privacy.manage"


class ReceiptOutput(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=SubjectRequest.Kind.choices)
    subject_digest = serializers.CharField(help_text="HMAC of the subject: the subject itself is not kept.")
    counts = serializers.DictField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    receipt_hash = serializers.CharField(help_text="sha256 of the receipt's canonical JSON.")
    audit_event_id = serializers.IntegerField(allow_null=True)


class SubjectRequestCursor(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50


class SubjectRequestListApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "subject_request"

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=SubjectRequest.Kind.choices)
        email = serializers.CharField(max_length=254, required=False, allow_blank=True)
        respondent_key = serializers.CharField(max_length=128, required=False, allow_blank=True)

    class OutputSerializer(serializers.Serializer):
        receipt = ReceiptOutput()
        document = serializers.JSONField(required=False, help_text="Access only: everything held about the subject.")

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, operation_id="subject_request_create")
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        subject = services.subject_clean(
            email=body.validated_data.get("email"), respondent_key=body.validated_data.get("respondent_key")
        )
        actor_id = getattr(request.user, "id", None)
        if body.validated_data["kind"] == SubjectRequest.Kind.ACCESS:
            record, document = services.dsr_access(subject=subject, actor_id=actor_id)
            return Response(
                {"receipt": services.receipt_data(record), "document": document}, status=status.HTTP_201_CREATED
            )
        record = services.dsr_erase(subject=subject, actor_id=actor_id)
        return Response({"receipt": services.receipt_data(record)}, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={200: paginated(ReceiptOutput(many=True), "PaginatedSubjectRequestList")},
        operation_id="subject_request_list",
    )
    def get(self, request: Request) -> Response:
        paginator = SubjectRequestCursor()
        page = paginator.paginate_queryset(SubjectRequest.objects.all(), request, view=self) or []
        return paginator.get_paginated_response([services.receipt_data(r) for r in page])


class SubjectRequestDetailApi(TenantApi):
    required_permission = PERMISSION

    @extend_schema(responses={200: ReceiptOutput}, operation_id="subject_request_get")
    def get(self, request: Request, pk: str) -> Response:
        return Response(services.receipt_data(get_object_or_404(SubjectRequest, pk=pk)))


class TenantExportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=TenantExport.Status.choices)
    counts = serializers.DictField(child=serializers.IntegerField())
    size = serializers.IntegerField(allow_null=True, help_text="Bytes, when ready.")
    download_url = serializers.CharField(allow_null=True, help_text="When ready: a signed, expiring link.")
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField()


def _export_body(export: TenantExport, *, with_url: bool = False) -> dict[str, object]:
    return TenantExportOutput(
        {
            "id": export.pk,
            "status": export.status,
            "counts": export.counts,
            "size": export.size,
            "download_url": portability.tenant_export_download_url(export=export) if with_url else None,
            "error": export.error,
            "created_at": export.created_at,
            "finished_at": export.finished_at,
            "expires_at": export.expires_at,
        }
    ).data


class TenantExportCursor(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50


class TenantExportListApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "tenant_export"

    @extend_schema(request=None, responses={202: TenantExportOutput}, operation_id="tenant_export_create")
    def post(self, request: Request) -> Response:
        export = portability.tenant_export_request(requested_by_id=getattr(request.user, "id", None))
        return Response(_export_body(export), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={200: paginated(TenantExportOutput(many=True), "PaginatedTenantExportList")},
        operation_id="tenant_export_list",
    )
    def get(self, request: Request) -> Response:
        paginator = TenantExportCursor()
        page = paginator.paginate_queryset(TenantExport.objects.all(), request, view=self) or []
        return paginator.get_paginated_response([_export_body(e) for e in page])


class TenantExportDetailApi(TenantApi):
    required_permission = PERMISSION

    @extend_schema(responses={200: TenantExportOutput}, operation_id="tenant_export_get")
    def get(self, request: Request, pk: int) -> Response:
        return Response(_export_body(get_object_or_404(TenantExport, pk=pk), with_url=True))
