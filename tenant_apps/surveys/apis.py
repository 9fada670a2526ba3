"""Survey builder API (RBAC-enforced, audited) and the respondents' survey load."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from shared_apps.core.errors import DomainError, error_response
from tenant_apps.apibase import TenantApi
from tenant_apps.members.access import PUBLIC, Principal, TenantJWTAuthentication
from tenant_apps.surveys import selectors, services
from tenant_apps.surveys.load import LoadedSurvey, now, survey_load
from tenant_apps.surveys.models import Survey, SurveyVersion
from tenant_apps.surveys.openapi import (
    DefinitionSchema,
    ExportDocumentSchema,
    LoadedSurveySchema,
    PageAddSchema,
    PageChangesSchema,
    QuestionAddSchema,
    QuestionChangesSchema,
)

# Views that honour ``If-Match`` (the survey's ETag) answer 412 when it is stale.
IF_MATCH = (412,)


def _if_match(request: Request) -> int | None:
    """``If-Match: "r12"`` (the ETag of the survey) -> 12. Absent: no check."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        return None
    try:
        return int(header.removeprefix("W/").strip('"').lstrip("r"))
    except ValueError as exc:
        raise ValidationError({"If-Match": ['Expected the survey\'s ETag, e.g. "r12".']}) from exc


class SurveyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    status = serializers.CharField()
    public_link = serializers.CharField()
    revision = serializers.IntegerField()
    access = serializers.CharField()
    opens_at = serializers.DateTimeField(allow_null=True)
    closes_at = serializers.DateTimeField(allow_null=True)
    response_limit = serializers.IntegerField(allow_null=True)
    one_response_per_respondent = serializers.BooleanField()
    notify_owners = serializers.BooleanField()
    branding = serializers.JSONField()
    response_count = serializers.IntegerField()
    current_version = serializers.IntegerField(source="current_version.number", allow_null=True, default=None)
    has_unpublished_changes = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SurveyDetailOutput(SurveyOutput):
    definition = serializers.JSONField()


class CompileErrorOutput(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    location = serializers.DictField()


class SurveyValidationOutput(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = CompileErrorOutput(many=True)  # type: ignore[assignment]


class SurveyBuilderOutput(SurveyDetailOutput):
    """A builder write's answer: the survey and the draft's current compile result."""

    diagnostics = SurveyValidationOutput()


class SettingsInput(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    access = serializers.ChoiceField(choices=Survey.Access.choices, required=False)
    opens_at = serializers.DateTimeField(required=False, allow_null=True)
    closes_at = serializers.DateTimeField(required=False, allow_null=True)
    response_limit = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    one_response_per_respondent = serializers.BooleanField(required=False)
    notify_owners = serializers.BooleanField(required=False)
    branding = serializers.DictField(required=False)


def _survey_response(survey: Survey, *, detail: bool = True, code: int = 200) -> Response:
    serializer = SurveyDetailOutput if detail else SurveyOutput
    return Response(serializer(survey).data, status=code, headers={"ETag": f'"r{survey.revision}"'})


def _builder_response(survey: Survey, *, code: int = 200) -> Response:
    """A builder write's answer: the survey and, under ``diagnostics``, the draft's current compile result
    (the shape of ``/validate/``: ``{"valid", "errors"}``). Drafts may hold logic errors; publishing refuses."""
    response = _survey_response(survey, code=code)
    response.data["diagnostics"] = services.survey_validate(survey=survey).as_dict()
    return response


class SurveyApi(TenantApi):
    audit_target_type = "survey"

    def survey(self, pk: int) -> Survey:
        survey = selectors.survey_get(survey_id=pk)
        if survey is None:
            raise NotFound("No such survey.")
        return survey


class SurveyListApi(SurveyApi):
    required_permission = {"GET": "survey.view", "POST": "survey.create"}

    class CreateInput(SettingsInput):
        definition = serializers.JSONField(required=False)

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=Survey.Status.values, required=False)],
        responses={200: SurveyOutput(many=True)},
        operation_id="survey_list",
    )
    def get(self, request: Request) -> Response:
        status_filter = request.query_params.get("status")
        if status_filter is not None and status_filter not in Survey.Status.values:
            raise ValidationError({"status": [f"One of {', '.join(Survey.Status.values)}."]})
        surveys = selectors.survey_list(status=status_filter)[:500]
        return Response(SurveyOutput(surveys, many=True).data)

    @extend_schema(request=CreateInput, responses={201: SurveyBuilderOutput}, operation_id="survey_create")
    def post(self, request: Request) -> Response:
        data = self.CreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        survey = services.survey_create(created_by_id=request.user.pk, **data.validated_data)
        return _builder_response(survey, code=status.HTTP_201_CREATED)


class SurveyDetailApi(SurveyApi):
    required_permission = {"GET": "survey.view", "PATCH": "survey.edit", "DELETE": "survey.delete"}
    error_statuses = IF_MATCH

    @extend_schema(responses={200: SurveyDetailOutput}, operation_id="survey_get")
    def get(self, request: Request, pk: int) -> Response:
        return _survey_response(self.survey(pk))

    @extend_schema(
        request=SettingsInput(partial=True), responses={200: SurveyDetailOutput}, operation_id="survey_update"
    )
    def patch(self, request: Request, pk: int) -> Response:
        data = SettingsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        survey = services.survey_update_settings(
            survey=self.survey(pk),
            expected_revision=_if_match(request),
            **data.validated_data,
        )
        return _survey_response(self.survey(survey.pk))

    @extend_schema(responses={204: None}, operation_id="survey_delete")
    def delete(self, request: Request, pk: int) -> Response:
        services.survey_delete(survey=self.survey(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SurveyDefinitionApi(SurveyApi):
    required_permission = "survey.edit"
    error_statuses = IF_MATCH

    @extend_schema(
        request=DefinitionSchema, responses={200: SurveyBuilderOutput}, operation_id="survey_definition_replace"
    )
    def put(self, request: Request, pk: int) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"definition": ["Send the definition as a JSON object."]})
        survey = services.definition_replace(
            survey=self.survey(pk),
            definition=request.data,
            expected_revision=_if_match(request),
        )
        return _builder_response(survey)


def _element(request: Request) -> tuple[dict[str, Any], int | None]:
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    element = dict(request.data)
    position = element.pop("position", None)
    if position is not None and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
        raise ValidationError({"position": ["A non-negative integer."]})
    return element, position


class PageListApi(SurveyApi):
    required_permission = "survey.edit"
    error_statuses = IF_MATCH

    @extend_schema(request=PageAddSchema, responses={201: SurveyBuilderOutput}, operation_id="page_add")
    def post(self, request: Request, pk: int) -> Response:
        page, position = _element(request)
        survey = services.page_add(
            survey=self.survey(pk),
            page=page,
            position=position,
            expected_revision=_if_match(request),
        )
        return _builder_response(survey, code=status.HTTP_201_CREATED)


class PageDetailApi(SurveyApi):
    required_permission = "survey.edit"
    error_statuses = IF_MATCH

    @extend_schema(request=PageChangesSchema, responses={200: SurveyBuilderOutput}, operation_id="page_update")
    def patch(self, request: Request, pk: int, page_id: str) -> Response:
        changes, _ = _element(request)
        survey = services.page_update(
            survey=self.survey(pk),
            page_id=page_id,
            changes=changes,
            expected_revision=_if_match(request),
        )
        return _builder_response(survey)

    @extend_schema(responses={200: SurveyBuilderOutput}, operation_id="page_delete")
    def delete(self, request: Request, pk: int, page_id: str) -> Response:
        survey = services.page_delete(survey=self.survey(pk), page_id=page_id, expected_revision=_if_match(request))
        return _builder_response(survey)


class OrderInput(serializers.Serializer):
    order = serializers.ListField(child=serializers.CharField(max_length=64), max_length=1000)


class PageReorderApi(SurveyApi):
    required_permission = "survey.edit"
    error_statuses = IF_MATCH

    @extend_schema(request=OrderInput, responses={200: SurveyBuilderOutput}, operation_id="pages_reorder")
    def post(self, request: Request, pk: int) -> Response:
        data = OrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        survey = services.pages_reorder(
            survey=self.survey(pk),
            order=data.validated_data["order"],
            expected_revision=_if_match(request),
        )
        return _builder_response(survey)


class QuestionListApi(SurveyApi):
    required_permission = "survey.edit"
    error_statuses = IF_MATCH

    @extend_schema(request=QuestionAddSchema, responses={201: SurveyBuilderOutput}, operation_id="question_add")
    def post(self, request: Request, pk: int, page_id: str) -> Response:
        question, position = _element(request)
        survey = services.question_add(
            survey=self.survey(pk),
            page_id=page_id,
            question=question,
            position=position,
            expected_revision=_if_match(request),
        )
        return _builder_response(survey, code=status.HTTP_201_CREATED)


class QuestionDetailApi(SurveyApi):
    required_permission = "survey.edit"
    error_statuses = IF_MATCH

    @extend_schema(request=QuestionChangesSchema, responses={200: SurveyBuilderOutput}, operation_id="question_update")
    def patch(self, request: Request, pk: int, question_id: str) -> Response:
        changes, _ = _element(request)
        survey = services.question_update(
            survey=self.survey(pk),
            question_id=question_id,
            changes=changes,
            expected_revision=_if_match(request),
        )
        return _builder_response(survey)

    @extend_schema(responses={200: SurveyBuilderOutput}, operation_id="question_delete")
    def delete(self, request: Request, pk: int, question_id: str) -> Response:
        survey = services.question_delete(
            survey=self.survey(pk),
            question_id=question_id,
            expected_revision=_if_match(request),
        )
        return _builder_response(survey)


class QuestionMoveApi(SurveyApi):
    required_permission = "survey.edit"
    error_statuses = IF_MATCH

    class InputSerializer(serializers.Serializer):
        page = serializers.CharField(max_length=64)
        position = serializers.IntegerField(min_value=0, required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={200: SurveyBuilderOutput}, operation_id="question_move")
    def post(self, request: Request, pk: int, question_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        survey = services.question_move(
            survey=self.survey(pk),
            question_id=question_id,
            page_id=data.validated_data["page"],
            position=data.validated_data.get("position"),
            expected_revision=_if_match(request),
        )
        return _builder_response(survey)


class SurveyDuplicateApi(SurveyApi):
    required_permission = "survey.create"

    @extend_schema(request=None, responses={201: SurveyDetailOutput}, operation_id="survey_duplicate")
    def post(self, request: Request, pk: int) -> Response:
        survey = services.survey_duplicate(survey=self.survey(pk), created_by_id=request.user.pk)
        return _survey_response(survey, code=status.HTTP_201_CREATED)


class SurveyValidateApi(SurveyApi):
    required_permission = "survey.edit"

    @extend_schema(request=None, responses={200: SurveyValidationOutput}, operation_id="survey_validate")
    def post(self, request: Request, pk: int) -> Response:
        result = services.survey_validate(survey=self.survey(pk))
        return Response(result.as_dict())


class PublicationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    revision = serializers.IntegerField()
    errors = serializers.JSONField()  # type: ignore[assignment]
    version = serializers.IntegerField(source="version.number", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class SurveyPublishApi(SurveyApi):
    required_permission = "survey.publish"

    @extend_schema(request=None, responses={202: PublicationOutput}, operation_id="survey_publish")
    def post(self, request: Request, pk: int) -> Response:
        publication = services.publication_request(survey=self.survey(pk), requested_by_id=request.user.pk)
        location = f"/api/v1/surveys/{pk}/publications/{publication.pk}/"
        return Response(
            PublicationOutput(publication).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location}
        )


class PublicationDetailApi(SurveyApi):
    required_permission = "survey.view"

    @extend_schema(responses={200: PublicationOutput}, operation_id="publication_get")
    def get(self, request: Request, pk: int, publication_id: int) -> Response:
        publication = selectors.publication_get(survey_id=pk, publication_id=publication_id)
        if publication is None:
            raise NotFound("No such publication.")
        return Response(PublicationOutput(publication).data)


class _StatusApi(SurveyApi):
    required_permission = "survey.publish"
    service: Any = None

    @extend_schema(request=None, responses={200: SurveyDetailOutput})
    def post(self, request: Request, pk: int) -> Response:
        return _survey_response(type(self).service(survey=self.survey(pk)))


class SurveyCloseApi(_StatusApi):
    service = staticmethod(services.survey_close)


class SurveyReopenApi(_StatusApi):
    service = staticmethod(services.survey_reopen)


class SurveyArchiveApi(_StatusApi):
    required_permission = "survey.delete"
    service = staticmethod(services.survey_archive)


class VersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    title = serializers.CharField()
    published_at = serializers.DateTimeField()
    published_by_id = serializers.IntegerField(allow_null=True)


class SurveyVersionListApi(SurveyApi):
    required_permission = "survey.view"

    @extend_schema(responses={200: VersionOutput(many=True)}, operation_id="survey_version_list")
    def get(self, request: Request, pk: int) -> Response:
        versions = selectors.version_list(survey=self.survey(pk))
        return Response(VersionOutput(versions, many=True).data)


class SurveyVersionDetailApi(SurveyApi):
    required_permission = "survey.view"

    class OutputSerializer(VersionOutput):
        definition = serializers.JSONField()

    @extend_schema(responses={200: OutputSerializer}, operation_id="survey_version_get")
    def get(self, request: Request, pk: int, number: int) -> Response:
        version = get_object_or_404(SurveyVersion, survey_id=pk, number=number)
        return Response(self.OutputSerializer(version).data)


class SurveyExportApi(SurveyApi):
    required_permission = "survey.view"

    @extend_schema(responses={200: ExportDocumentSchema}, operation_id="survey_export")
    def get(self, request: Request, pk: int) -> Response:
        return Response(services.survey_export(survey=self.survey(pk)))


class SurveyImportApi(SurveyApi):
    required_permission = "survey.create"

    @extend_schema(request=ExportDocumentSchema, responses={201: SurveyBuilderOutput}, operation_id="survey_import")
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send the exported survey as a JSON object."]})
        survey = services.survey_import(document=request.data, created_by_id=request.user.pk)
        return _builder_response(survey, code=status.HTTP_201_CREATED)


def open_survey(request: Request, link: str, *, allow_used_invitation: bool = False) -> LoadedSurvey | HttpResponse:
    """The published survey at ``link`` if this caller may answer it now, else the response to send.

    A personal invitation link (header ``X-Invitation-Token``) opens any survey and is the only way
    into an ``invited`` one; the invitation is then ``invitation_of(request)``. A used invitation is
    refused (410) unless ``allow_used_invitation`` (the submit, which answers a repeat itself)."""
    loaded = survey_load(link=link)
    if loaded is None or loaded.status == Survey.Status.ARCHIVED:
        return error_response(404, "survey_not_found", "There is no survey at this link.")
    code, message = loaded.availability(now())
    if code != "open":
        opens_at = loaded.opens_at if code == "survey_not_open" else None
        details = {"opens_at": opens_at.isoformat()} if opens_at else None
        return error_response(403 if code == "survey_not_open" else 410, code, message, details)
    token = request.headers.get("X-Invitation-Token", "")
    if token or loaded.access == Survey.Access.INVITED:
        return _open_invited(request, loaded, token, allow_used_invitation)
    if loaded.access != Survey.Access.ANONYMOUS and not isinstance(request.user, Principal):
        return error_response(
            401,
            "sign_in_required",
            "Sign in to answer this survey.",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    return loaded


def _open_invited(request: Request, loaded: LoadedSurvey, token: str, allow_used: bool) -> LoadedSurvey | HttpResponse:
    if not token:
        return error_response(
            403,
            "invitation_required",
            "This survey is answered by invitation only: open the personal link you received by e-mail.",
        )
    from tenant_apps.distribution.links import invitation_open

    try:
        invitation = invitation_open(token=token, survey_id=loaded.survey_id, allow_used=allow_used)
    except DomainError as exc:
        return error_response(exc.status, exc.code, exc.message)
    request._request.survey_invitation = invitation  # type: ignore[attr-defined]
    return loaded


def invitation_of(request: Request) -> Any:
    """The invitation (``tenant_apps.distribution.links.InvitationAccess``) ``open_survey`` admitted, or None."""
    return getattr(request._request, "survey_invitation", None)


class RespondentThrottle(ScopedRateThrottle):
    scope_attr = "throttle_scope"


class SurveyLoadApi(TenantApi):
    """The published version of a survey, for respondents (anonymous unless the survey restricts access).
    Cached in-process and in Redis; ``ETag``/``If-None-Match`` answer 304."""

    required_permission = PUBLIC
    authentication_classes = [TenantJWTAuthentication]
    throttle_classes = [RespondentThrottle]
    throttle_scope = "respondent"
    error_statuses = (410,)

    @extend_schema(
        responses={200: LoadedSurveySchema, 304: OpenApiResponse(description="Not modified (`If-None-Match`).")},
        operation_id="survey_load",
    )
    def get(self, request: Request, link: str) -> HttpResponse:
        loaded = open_survey(request, link)
        if isinstance(loaded, HttpResponse):
            return loaded
        if request.headers.get("If-None-Match") == loaded.etag:
            response: HttpResponse = HttpResponseNotModified()
        else:
            response = HttpResponse(loaded.body, content_type="application/json")
        response["ETag"] = loaded.etag
        response["Cache-Control"] = "private, no-cache"
        return response
