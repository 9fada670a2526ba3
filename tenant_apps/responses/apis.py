"""Respondent endpoints on a survey's public link: save and resume drafts, submit."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.core.http import client_ip
from shared_apps.core.openapi import paginated
from shared_apps.core.pagination import CursorPagination
from shared_apps.core.parsers import SafeMultiPartParser, finite_json_value
from shared_apps.core.tenancy import current_schema
from tenant_apps.apibase import TenantApi
from tenant_apps.members.access import MEMBER, PUBLIC, NoAuthentication, Principal, TenantJWTAuthentication
from tenant_apps.pii.services import answers_reveal
from tenant_apps.responses import services
from tenant_apps.responses.models import Submission
from tenant_apps.responses.selectors import answers_for, draft_list, submission_list
from tenant_apps.surveys.apis import RespondentThrottle, invitation_of, open_survey
from tenant_apps.surveys.definition import pii_fields
from tenant_apps.surveys.load import LoadedSurvey, version_definition
from tenant_apps.surveys.models import Survey, SurveyVersion

KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


class RespondentApi(TenantApi):
    required_permission = PUBLIC
    authentication_classes = [TenantJWTAuthentication]
    throttle_classes = [RespondentThrottle]
    throttle_scope = "respondent"
    audit_generic = False
    error_statuses: tuple[int, ...] = (410,)  # the survey is closed or full


class DraftInput(serializers.Serializer):
    answers = serializers.DictField(allow_empty=True)
    page = serializers.CharField(max_length=64, required=False, allow_null=True)
    submission_id = serializers.UUIDField(required=False, allow_null=True)
    token = serializers.CharField(max_length=200, required=False, allow_null=True)


class DraftSaveApi(RespondentApi):
    class OutputSerializer(serializers.Serializer):
        submission_id = serializers.UUIDField()
        token = serializers.CharField()
        expires_at = serializers.DateTimeField()
        resume_url = serializers.CharField()

    @extend_schema(request=DraftInput, responses={200: OutputSerializer}, operation_id="draft_save")
    def put(self, request: Request, link: str) -> HttpResponse | Response:
        loaded = open_survey(request, link)
        if isinstance(loaded, HttpResponse):
            return loaded
        data = DraftInput(data=request.data)
        data.is_valid(raise_exception=True)
        uid = data.validated_data.get("submission_id")
        saved = services.draft_save(
            survey_id=loaded.survey_id,
            version=loaded.version_id,
            answers=data.validated_data["answers"],
            page=data.validated_data.get("page"),
            uid=str(uid) if uid else None,
            token=data.validated_data.get("token"),
            pii=pii_fields(version_definition(loaded.version_id)),
        )
        code = services.resume_code(survey_id=loaded.survey_id, uid=saved.uid, token=saved.token)
        resume_url = f"/s/{link}?r={code}"
        if invitation_of(request) is not None:  # a personal link's draft resumes through that link
            resume_url += "&" + urlencode({"i": request.headers.get("X-Invitation-Token", "")})
        return Response(
            {
                "submission_id": saved.uid,
                "token": saved.token,
                "expires_at": saved.expires_at,
                "resume_url": resume_url,
            }
        )


class DraftResumeApi(RespondentApi):
    class OutputSerializer(serializers.Serializer):
        submission_id = serializers.UUIDField()
        answers = serializers.DictField()
        page = serializers.CharField(allow_null=True)
        version = serializers.IntegerField(allow_null=True)

    @extend_schema(
        parameters=[OpenApiParameter("token", str, required=True, description="The draft's resume token.")],
        responses={200: OutputSerializer},
        operation_id="draft_resume",
    )
    def get(self, request: Request, link: str, uid: str) -> HttpResponse | Response:
        loaded = open_survey(request, link)
        if isinstance(loaded, HttpResponse):
            return loaded
        data = services.draft_load(
            survey_id=loaded.survey_id, uid=str(uid), token=request.query_params.get("token", "")
        )
        return Response(
            {
                "submission_id": str(uid),
                "answers": data["answers"],
                "page": data.get("page"),
                "version": data.get("version"),
            }
        )


class DraftEmailApi(RespondentApi):
    """E-mail the draft's resume link to the respondent (queued; at most a few per draft and per IP)."""

    throttle_scope = "resume_email"

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        token = serializers.CharField(max_length=200)

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["queued"])

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer}, operation_id="draft_email")
    def post(self, request: Request, link: str, uid: str) -> HttpResponse | Response:
        loaded = open_survey(request, link)
        if isinstance(loaded, HttpResponse):
            return loaded
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.draft_email_request(
            survey_id=loaded.survey_id,
            link=link,
            uid=str(uid),
            token=data.validated_data["token"],
            email=data.validated_data["email"],
        )
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)


def _respondent_key(request: Request, loaded: LoadedSurvey) -> str | None:
    if isinstance(request.user, Principal):
        return f"user:{request.user.id}"
    raw = request.headers.get("X-Respondent-Key", "")
    if not KEY_RE.match(raw):
        return None
    return hashlib.sha256(f"{current_schema()}|{loaded.survey_id}|{raw}".encode()).hexdigest()[:40]


class SubmitInput(serializers.Serializer):
    answers = serializers.DictField(allow_empty=True)
    submission_id = serializers.UUIDField(required=False, allow_null=True)
    token = serializers.CharField(max_length=200, required=False, allow_null=True)


class SubmitApi(RespondentApi):
    """Submit the answers. ``Idempotency-Key`` (or the draft's submission id) makes a retry return the
    original result without a second response; bad input gets 400 with one message per question."""

    error_statuses = (409, 410)  # already answered; closed or full

    class OutputSerializer(serializers.Serializer):
        submission_id = serializers.UUIDField()
        end_screen = serializers.CharField(allow_null=True)
        text = serializers.CharField(allow_blank=True)

    @extend_schema(
        request=SubmitInput,
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter("X-Respondent-Key", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter(
                "X-Invitation-Token",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="The `i` parameter of a personal invitation link (required for invited-only surveys).",
            ),
        ],
        responses={201: OutputSerializer, 200: OutputSerializer},
        operation_id="submission_create",
    )
    def post(self, request: Request, link: str) -> HttpResponse | Response:
        loaded = open_survey(request, link, allow_used_invitation=True)
        if isinstance(loaded, HttpResponse):
            return loaded
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        idempotency_key = request.headers.get("Idempotency-Key") or None
        if idempotency_key is not None and not KEY_RE.match(idempotency_key):
            raise ValidationError({"Idempotency-Key": ["8 to 128 letters, digits or . _ : -"]})
        definition = version_definition(loaded.version_id)
        answers = data.validated_data["answers"]
        meta: dict[str, Any] = {"user_agent": request.headers.get("User-Agent", "")[:200], "ip": client_ip(request)}
        respondent_key = _respondent_key(request, loaded)
        one_per_respondent = loaded.one_response_per_respondent
        invitation = invitation_of(request)
        if invitation is not None:
            # Through a personal link: one response per contact, attributed to it; the contact's
            # attributes fill the hidden fields (the server's values win over the page's).
            answers = {**answers, **invitation.hidden_answers(definition)}
            raw = f"{current_schema()}|{loaded.survey_id}|{invitation.respondent_key}"
            respondent_key = hashlib.sha256(raw.encode()).hexdigest()[:40]
            one_per_respondent = True
            meta.update(invitation_id=invitation.invitation_id, contact_id=invitation.contact_id)
        if one_per_respondent and respondent_key is None:
            raise ValidationError(
                {
                    "X-Respondent-Key": [
                        "This survey accepts one response per respondent: send a stable respondent key or sign in."
                    ]
                }
            )
        uid = data.validated_data.get("submission_id")
        submitted = services.submission_create(
            survey_id=loaded.survey_id,
            version_id=loaded.version_id,
            definition=definition,
            answers=answers,
            uid=str(uid) if uid else None,
            token=data.validated_data.get("token"),
            idempotency_key=idempotency_key,
            respondent_id=request.user.id if isinstance(request.user, Principal) else None,
            respondent_key=respondent_key,
            one_per_respondent=one_per_respondent,
            notify_owners=loaded.notify_owners,
            meta=meta,
        )
        return Response(
            {"submission_id": submitted.uid, **submitted.result},
            status=status.HTTP_201_CREATED if submitted.created else status.HTTP_200_OK,
        )


# --- staff ------------------------------------------------------------------------------------------


class SubmissionCursor(CursorPagination):
    ordering = ("-submitted_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class SubmissionOutput(serializers.Serializer):
    id = serializers.UUIDField(source="uid")
    submitted_at = serializers.DateTimeField()
    version = serializers.IntegerField(source="version_number")  # the number, as /versions/<number>/
    respondent_id = serializers.IntegerField(allow_null=True)
    end_screen = serializers.CharField(allow_null=True)
    variables = serializers.JSONField()
    answers = serializers.SerializerMethodField()

    def get_answers(self, submission: Submission) -> dict[str, Any]:
        return self.context["answers"].get(submission.id, {})


class SubmissionFilter(serializers.Serializer):
    completion = serializers.ChoiceField(
        choices=["complete", "incomplete"],
        default="complete",
        help_text="incomplete: drafts in progress (as of the last sync)",
    )
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    answer = serializers.RegexField(
        r"^[A-Za-z][A-Za-z0-9_]{0,63}:.{1,200}$",
        required=False,
        help_text="question_id:value, e.g. q_role:dev or q_nps:9",
    )


def _survey_or_404(pk: int) -> Survey:
    return get_object_or_404(Survey.objects.only("id", "current_version_id"), pk=pk)


def _own_only(request: Request) -> int | None:
    """Members without ``submission.view`` (e.g. Respondents) see only their own responses."""
    principal: Principal = request.user  # type: ignore[assignment]
    return None if principal.has("submission.view") else principal.id


def _sees_pii(request: Request) -> bool:
    principal: Principal = request.user  # type: ignore[assignment]
    return principal.has("submission.view_pii")


def _answers_shown(request: Request, submissions: list[Submission]) -> dict[int, dict[str, Any]]:
    """The answers of these submissions as this member may see them: personal data opened (and the batch
    audited) with ``submission.view_pii``, ``[redacted]`` without."""
    answers = answers_for(submissions)
    answers_reveal([(s.survey_id, str(s.uid), answers[s.id]) for s in submissions], allowed=_sees_pii(request))
    return answers


class DraftListOutput(serializers.Serializer):
    id = serializers.UUIDField()
    updated_at = serializers.DateTimeField()
    page = serializers.CharField(allow_null=True)
    answers = serializers.DictField(allow_null=True)


class SubmissionListApi(TenantApi):
    required_permission = MEMBER

    @extend_schema(
        parameters=[
            SubmissionFilter,
            OpenApiParameter("cursor", str, required=False),
            OpenApiParameter("page_size", int, required=False),
        ],
        responses={
            200: paginated(
                PolymorphicProxySerializer(
                    component_name="SubmissionOrDraft",
                    serializers=[SubmissionOutput, DraftListOutput],
                    resource_type_field_name=None,
                    many=True,
                ),
                "PaginatedSubmissionList",
            )
        },
        operation_id="submission_list",
    )
    def get(self, request: Request, pk: int) -> Response:
        survey = _survey_or_404(pk)
        filters = SubmissionFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        if filters.validated_data["completion"] == "incomplete":
            return self.in_progress(request, survey)
        answer = None
        if "answer" in filters.validated_data:
            question_id, raw = filters.validated_data["answer"].split(":", 1)
            answer = (question_id, finite_json_value(raw, "answer"))
        qs = submission_list(
            survey_id=survey.pk,
            since=filters.validated_data.get("since"),
            until=filters.validated_data.get("until"),
            respondent_id=_own_only(request),
            answer=answer,
        )
        paginator = SubmissionCursor()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        data = SubmissionOutput(page, many=True, context={"answers": _answers_shown(request, page)}).data
        return paginator.get_paginated_response(data)

    def in_progress(self, request: Request, survey: Survey) -> Response:
        if _own_only(request) is not None:
            return Response({"next": None, "previous": None, "results": []})
        paginator = DraftCursor()
        page = paginator.paginate_queryset(draft_list(survey_id=survey.pk), request, view=self) or []
        shown = [(d.survey_id, str(d.uid), dict(d.data.get("answers") or {})) for d in page]
        answers_reveal(shown, allowed=_sees_pii(request))
        return paginator.get_paginated_response(
            [
                {
                    "id": str(d.uid),
                    "updated_at": d.updated_at,
                    "page": d.data.get("page"),
                    "answers": answers,
                }
                for d, (_, _, answers) in zip(page, shown, strict=True)
            ]
        )


class DraftCursor(CursorPagination):
    ordering = ("-updated_at", "uid")
    page_size = 50


class QuestionRefOutput(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    page = serializers.CharField()


class SubmissionDetailOutput(SubmissionOutput):
    questions = QuestionRefOutput(many=True)


class SubmissionDetailApi(TenantApi):
    required_permission = {"GET": MEMBER, "DELETE": "submission.delete"}

    def _get(self, request: Request, pk: int, uid: Any) -> Submission:
        survey = _survey_or_404(pk)
        qs = submission_list(survey_id=survey.pk, respondent_id=_own_only(request))
        return get_object_or_404(qs, uid=uid)

    @extend_schema(responses={200: SubmissionDetailOutput}, operation_id="submission_get")
    def get(self, request: Request, pk: int, uid: Any) -> Response:
        submission = self._get(request, pk, uid)
        answers = _answers_shown(request, [submission])
        body = dict(SubmissionOutput(submission, context={"answers": answers}).data)
        version = SurveyVersion.objects.only("number", "definition").get(pk=submission.version_id)
        body["version"] = version.number
        body["questions"] = [
            {"id": q["id"], "type": q["type"], "text": q.get("text", ""), "page": page["id"]}
            for page in version.definition.get("pages", [])
            for q in page.get("questions", [])
        ]
        return Response(body)

    @extend_schema(responses={204: None}, operation_id="submission_delete")
    def delete(self, request: Request, pk: int, uid: Any) -> HttpResponse | Response:
        submission = self._get(request, pk, uid)
        services.submission_soft_delete(submission_id=submission.id, survey_id=submission.survey_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- files ------------------------------------------------------------------------------------------


class FileUploadApi(RespondentApi):
    """Upload a file answering a file question (multipart: ``question``, ``file``)."""

    parser_classes = [SafeMultiPartParser]

    class OutputSerializer(serializers.Serializer):
        file_id = serializers.CharField()
        name = serializers.CharField()
        size = serializers.IntegerField()

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"question": {"type": "string"}, "file": {"type": "string", "format": "binary"}},
            }
        },
        responses={201: OutputSerializer},
        operation_id="file_upload",
    )
    def post(self, request: Request, link: str) -> HttpResponse | Response:
        from tenant_apps.responses.files import file_store

        loaded = open_survey(request, link)
        if isinstance(loaded, HttpResponse):
            return loaded
        upload = request.FILES.get("file")
        question = request.data.get("question") if hasattr(request.data, "get") else None
        if upload is None or not isinstance(question, str):
            raise ValidationError({"file": ["Send multipart fields 'question' and 'file'."]})
        stored = file_store(
            survey_id=loaded.survey_id,
            definition=version_definition(loaded.version_id),
            question_id=question,
            upload=upload,
        )
        return Response(
            {"file_id": stored.file_id, "name": stored.name, "size": stored.size}, status=status.HTTP_201_CREATED
        )


class FileUrlApi(TenantApi):
    """A short-lived signed URL to read an uploaded file (staff with ``submission.view``)."""

    required_permission = "submission.view"

    class OutputSerializer(serializers.Serializer):
        url = serializers.CharField()
        expires_in = serializers.IntegerField(help_text="Seconds.")

    @extend_schema(
        parameters=[OpenApiParameter("file_id", str, required=True)],
        responses={200: OutputSerializer},
        operation_id="file_url",
    )
    def get(self, request: Request, pk: int) -> HttpResponse | Response:
        from tenant_apps.responses.files import file_download_url

        survey = _survey_or_404(pk)
        url = file_download_url(
            file_id=request.query_params.get("file_id", ""), survey_id=survey.pk, sees_pii=_sees_pii(request)
        )
        return Response({"url": url, "expires_in": settings.UPLOAD_URL_SECONDS})


class FileDownloadApi(TenantApi):
    """Serves a file from local storage for a signed, expiring link (S3 links go to the bucket)."""

    required_permission = PUBLIC
    authentication_classes = [NoAuthentication]
    audit_generic = False

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY}, operation_id="file_download")
    def get(self, request: Request, token: str) -> HttpResponse | FileResponse:
        from tenant_apps.responses.files import file_open_signed

        handle, name = file_open_signed(token=token)
        response = FileResponse(handle, as_attachment=True, filename=name)
        response["Cache-Control"] = "private, no-store"
        return response
