"""Export endpoints: request an export of a survey's responses, follow it, download it, cancel it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.core.openapi import paginated
from shared_apps.core.pagination import CursorPagination
from tenant_apps.apibase import TenantApi
from tenant_apps.exports import services
from tenant_apps.exports.models import ExportJob
from tenant_apps.surveys.models import Survey

PERMISSION = "submission.export"


class ExportFilters(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Submitted at or after (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Submitted before (ISO 8601).")
    version = serializers.IntegerField(required=False, min_value=1, help_text="Only this version's responses.")


class ExportInput(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExportJob.Format.choices)
    values = serializers.ChoiceField(
        choices=["codes", "labels"], default="codes", help_text="Choice ids (codes) or their texts (labels)."
    )
    bom = serializers.BooleanField(default=False, help_text="CSV: start with a UTF-8 BOM (for spreadsheet apps).")
    include_drafts = serializers.BooleanField(default=False, help_text="Add responses still in progress.")
    filters = ExportFilters(required=False)


class ExportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    survey_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ExportJob.Status.choices)
    format = serializers.ChoiceField(choices=ExportJob.Format.choices)
    options = serializers.DictField()
    rows_done = serializers.IntegerField()
    rows_total = serializers.IntegerField(allow_null=True)
    seconds_left = serializers.IntegerField(allow_null=True, help_text="An estimate while running.")
    size = serializers.IntegerField(allow_null=True, help_text="Bytes, when ready.")
    download_url = serializers.CharField(allow_null=True, help_text="When ready: a signed, expiring link.")
    download_expires_in = serializers.IntegerField(allow_null=True, help_text="Seconds the link is valid.")
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField()


def _body(job: ExportJob, *, with_url: bool = False) -> dict[str, object]:
    from django.conf import settings

    url = services.export_download_url(job=job) if with_url else None
    return ExportOutput(
        {
            "id": job.pk,
            "survey_id": job.survey_id,
            "status": job.status,
            "format": job.format,
            "options": job.options,
            "rows_done": job.rows_done,
            "rows_total": job.rows_total,
            "seconds_left": services.export_seconds_left(job=job),
            "size": job.size,
            "download_url": url,
            "download_expires_in": settings.UPLOAD_URL_SECONDS if url else None,
            "error": job.error,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "expires_at": job.expires_at,
        }
    ).data


class ExportCreateApi(TenantApi):
    required_permission = PERMISSION
    billing_exempt = True  # a restricted organisation can still take its data out
    audit_target_type = "survey"

    @extend_schema(request=ExportInput, responses={202: ExportOutput}, operation_id="export_create")
    def post(self, request: Request, pk: int) -> Response:
        survey = get_object_or_404(Survey.objects.only("id", "current_version_id"), pk=pk)
        data = ExportInput(data=request.data)
        data.is_valid(raise_exception=True)
        options = data.validated_data
        filters = options.get("filters") or {}
        job = services.export_request(
            survey=survey,
            format=options["format"],
            labels=options["values"] == "labels",
            bom=options["bom"],
            include_drafts=options["include_drafts"],
            since=filters.get("since"),
            until=filters.get("until"),
            version=filters.get("version"),
            requested_by_id=getattr(request.user, "id", None),
            include_pii=request.user.has("submission.view_pii"),  # type: ignore[union-attr]
        )
        return Response(_body(job), status=status.HTTP_202_ACCEPTED)


class ExportCursor(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50


class ExportListApi(TenantApi):
    required_permission = PERMISSION

    @extend_schema(
        responses={200: paginated(ExportOutput(many=True), "PaginatedExportList")}, operation_id="export_list"
    )
    def get(self, request: Request) -> Response:
        qs: QuerySet[ExportJob] = ExportJob.objects.all()
        paginator = ExportCursor()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response([_body(job) for job in page])


class ExportDetailApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "export"

    @extend_schema(responses={200: ExportOutput}, operation_id="export_get")
    def get(self, request: Request, pk: int) -> Response:
        return Response(_body(get_object_or_404(ExportJob, pk=pk), with_url=True))

    @extend_schema(responses={200: ExportOutput}, operation_id="export_cancel")
    def delete(self, request: Request, pk: int) -> Response:
        job = services.export_cancel(job=get_object_or_404(ExportJob, pk=pk))
        return Response(_body(job))
