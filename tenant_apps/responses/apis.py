"""Respondent endpoints on a survey's public link: save and resume drafts, submit."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.core.errors import error_response
from shared_apps.core.tenancy import current_schema
from tenant_apps.apibase import TenantApi
from tenant_apps.members.access import PUBLIC, Principal, TenantJWTAuthentication
from tenant_apps.responses import services
from tenant_apps.surveys.apis import RespondentThrottle, open_survey
from tenant_apps.surveys.load import LoadedSurvey, version_definition

KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


class RespondentApi(TenantApi):
    required_permission = PUBLIC
    authentication_classes = [TenantJWTAuthentication]
    throttle_classes = [RespondentThrottle]
    throttle_scope = "respondent"
    audit_generic = False

    def respond(self, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except services.ResponseError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except DjangoValidationError as exc:
            raise ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            ) from exc


class DraftInput(serializers.Serializer):
    answers = serializers.DictField(allow_empty=True)
    page = serializers.CharField(max_length=64, required=False, allow_null=True)
    submission_id = serializers.UUIDField(required=False, allow_null=True)
    token = serializers.CharField(max_length=200, required=False, allow_null=True)


class DraftSaveApi(RespondentApi):
    @extend_schema(request=DraftInput, responses={200: serializers.DictField()}, operation_id="draft_save")
    def put(self, request: Request, link: str) -> HttpResponse | Response:
        loaded = open_survey(request, link)
        if isinstance(loaded, HttpResponse):
            return loaded
        data = DraftInput(data=request.data)
        data.is_valid(raise_exception=True)
        uid = data.validated_data.get("submission_id")
        saved = self.respond(
            services.draft_save,
            survey_id=loaded.survey_id,
            version=loaded.version_id,
            answers=data.validated_data["answers"],
            page=data.validated_data.get("page"),
            uid=str(uid) if uid else None,
            token=data.validated_data.get("token"),
        )
        if isinstance(saved, HttpResponse):
            return saved
        return Response(
            {
                "submission_id": saved.uid,
                "token": saved.token,
                "expires_at": saved.expires_at,
                "resume_url": f"/s/{link}?resume={saved.uid}&token={saved.token}",
            }
        )


class DraftResumeApi(RespondentApi):
    @extend_schema(responses={200: serializers.DictField()}, operation_id="draft_resume")
    def get(self, request: Request, link: str, uid: str) -> HttpResponse | Response:
        loaded = open_survey(request, link)
        if isinstance(loaded, HttpResponse):
            return loaded
        data = self.respond(
            services.draft_load, survey_id=loaded.survey_id, uid=str(uid), token=request.query_params.get("token", "")
        )
        if isinstance(data, HttpResponse):
            return data
        return Response(
            {
                "submission_id": str(uid),
                "answers": data["answers"],
                "page": data.get("page"),
                "version": data.get("version"),
            }
        )


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

    @extend_schema(request=SubmitInput, responses={201: serializers.DictField()}, operation_id="submission_create")
    def post(self, request: Request, link: str) -> HttpResponse | Response:
        loaded = open_survey(request, link)
        if isinstance(loaded, HttpResponse):
            return loaded
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        idempotency_key = request.headers.get("Idempotency-Key") or None
        if idempotency_key is not None and not KEY_RE.match(idempotency_key):
            raise ValidationError({"Idempotency-Key": ["8 to 128 letters, digits or . _ : -"]})
        respondent_key = _respondent_key(request, loaded)
        if loaded.one_response_per_respondent and respondent_key is None:
            raise ValidationError(
                {
                    "X-Respondent-Key": [
                        "This survey accepts one response per respondent: send a stable respondent key or sign in."
                    ]
                }
            )
        uid = data.validated_data.get("submission_id")
        submitted = self.respond(
            services.submission_create,
            survey_id=loaded.survey_id,
            version_id=loaded.version_id,
            definition=version_definition(loaded.version_id),
            answers=data.validated_data["answers"],
            uid=str(uid) if uid else None,
            token=data.validated_data.get("token"),
            idempotency_key=idempotency_key,
            respondent_id=request.user.id if isinstance(request.user, Principal) else None,
            respondent_key=respondent_key,
            one_per_respondent=loaded.one_response_per_respondent,
            meta={"user_agent": request.headers.get("User-Agent", "")[:200]},
        )
        if isinstance(submitted, HttpResponse):
            return submitted
        return Response(
            {"submission_id": submitted.uid, **submitted.result},
            status=status.HTTP_201_CREATED if submitted.created else status.HTTP_200_OK,
        )
