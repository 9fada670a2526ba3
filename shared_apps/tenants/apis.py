from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.core.throttling import SignupGlobalThrottle, SignupIpThrottle
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.selectors import organisation_get_by_public_id
from shared_apps.tenants.services import SignupRefused, organisation_signup, signup_verify, tenant_url

SIGNUP_STATES = ["unverified", "pending", "ready", "failed"]
SIGNUP_STATUS: dict[str, str] = {
    Organisation.Status.PENDING_VERIFICATION: "unverified",
    Organisation.Status.PROVISIONING: "pending",
    Organisation.Status.ACTIVE: "ready",
    Organisation.Status.FAILED: "failed",
}


class SignupStatusOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=SIGNUP_STATES)
    status_url = serializers.URLField()
    tenant_url = serializers.URLField(allow_null=True)
    message = serializers.CharField()


def _status_payload(request: Request, organisation: Organisation) -> dict[str, Any]:
    state = SIGNUP_STATUS.get(organisation.status, "ready")  # suspended/deleted later: it was created
    messages = {
        "unverified": "Check your e-mail: follow the link we sent to confirm the address and create the organisation.",
        "pending": "Your organisation is being set up.",
        "ready": "Your organisation is ready.",
        "failed": "Setting up your organisation failed. Please try again; nothing was kept.",
    }
    return {
        "id": organisation.public_id,
        "status": state,
        "status_url": request.build_absolute_uri(reverse("signup-status", args=[organisation.public_id])),
        "tenant_url": tenant_url(organisation) if state == "ready" else None,
        "message": messages[state],
    }


class SignupCapacity(Throttled):
    default_code = "signup_capacity"


class PendingSignupsConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "too_many_pending_signups"


def _refused(exc: SignupRefused) -> APIException:
    if exc.status == status.HTTP_429_TOO_MANY_REQUESTS:
        return SignupCapacity(wait=exc.retry_after, detail=str(exc))
    return PendingSignupsConflict(str(exc))


class SignupCreateApi(APIView):
    """Records the organisation unverified and e-mails a confirmation link; nothing is provisioned
    until the link is followed. Rate-limited per client IP and overall (429 with Retry-After)."""

    throttle_classes = [SignupIpThrottle, SignupGlobalThrottle]

    class InputSerializer(serializers.Serializer):
        organisation_name = serializers.CharField(max_length=200)
        subdomain = serializers.CharField(max_length=40)
        admin_email = serializers.EmailField()
        password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={202: SignupStatusOutput}, operation_id="signup_create")
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            organisation = organisation_signup(
                name=data["organisation_name"],
                slug=data["subdomain"].strip().lower(),
                admin_email=data["admin_email"],
                password=data["password"],
            )
        except SignupRefused as exc:
            raise _refused(exc) from exc
        payload = _status_payload(request, organisation)
        return Response(
            SignupStatusOutput(payload).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": payload["status_url"]},
        )


class SignupVerifyApi(APIView):
    """The token from the e-mailed link: verifies the address (once) and starts provisioning."""

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=1000)

    @extend_schema(request=InputSerializer, responses={202: SignupStatusOutput}, operation_id="signup_verify")
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organisation, _admin = signup_verify(token=serializer.validated_data["token"])
        payload = _status_payload(request, organisation)
        return Response(
            SignupStatusOutput(payload).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": payload["status_url"]},
        )


class SignupStatusApi(APIView):
    @extend_schema(responses={200: SignupStatusOutput}, operation_id="signup_status")
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        organisation = organisation_get_by_public_id(public_id=public_id)
        if organisation is None:
            raise NotFound("No signup with this id.")
        return Response(SignupStatusOutput(_status_payload(request, organisation)).data)
