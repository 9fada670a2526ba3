from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.tenants.models import Organisation
from shared_apps.tenants.selectors import organisation_get_by_public_id
from shared_apps.tenants.services import organisation_signup, tenant_url

SIGNUP_STATUS: dict[str, str] = {
    Organisation.Status.PROVISIONING: "pending",
    Organisation.Status.ACTIVE: "ready",
    Organisation.Status.FAILED: "failed",
}


class SignupStatusOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["pending", "ready", "failed"])
    status_url = serializers.URLField()
    tenant_url = serializers.URLField(allow_null=True)
    message = serializers.CharField()


def _status_payload(request: Request, organisation: Organisation) -> dict[str, Any]:
    state = SIGNUP_STATUS.get(organisation.status, "ready")  # suspended/deleted later: it was created
    messages = {
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


class SignupCreateApi(APIView):
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
        organisation = organisation_signup(
            name=data["organisation_name"],
            slug=data["subdomain"].strip().lower(),
            admin_email=data["admin_email"],
            password=data["password"],
        )
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
