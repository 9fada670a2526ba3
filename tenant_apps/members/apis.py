"""Tenant-host APIs for identity and access: tokens, me, members, invitations, roles."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.core.openapi import paginated
from shared_apps.core.pagination import CursorPagination
from shared_apps.tenants.services import tenant_url
from tenant_apps.apibase import TenantApi
from tenant_apps.members import auth, selectors, services, tokens
from tenant_apps.members.access import MEMBER, PUBLIC, NoAuthentication, Principal
from tenant_apps.members.models import Invitation, Membership, Role
from tenant_apps.members.permissions import PERMISSIONS


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField(
        required=False, help_text="Absent when the refresh token travels in the httpOnly cookie instead."
    )
    token_type = serializers.CharField(default="Bearer")


# The browser app keeps its refresh token out of JavaScript's reach: with ``"refresh_transport": "cookie"``
# on login, the refresh token is set as an httpOnly, SameSite=Strict cookie (Secure on https) bound to this
# tenant host (no Domain attribute) and to the auth endpoints' path, and left out of the body. Refresh and
# logout then read it from the cookie. API clients keep sending the token in the body.
REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/api/v1/auth/"
# A request that relies on the cookie must carry this header: a cross-site form cannot set it, and a
# cross-origin fetch that sets it needs a CORS preflight this host never grants (CSRF defence in depth
# on top of SameSite=Strict).
CSRF_HEADER = "X-Requested-With"


def _pair(pair: Any, *, request: Request | None = None, cookie: bool = False) -> Response:
    if not cookie:
        return Response({"access": pair.access, "refresh": pair.refresh, "token_type": "Bearer"})
    response = Response({"access": pair.access, "token_type": "Bearer"})
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh,
        max_age=tokens.refresh_lifetime_seconds(),
        path=REFRESH_COOKIE_PATH,
        secure=bool(request and request.is_secure()),
        httponly=True,
        samesite="Strict",
    )
    return response


def _clear_cookie(response: Response) -> Response:
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, samesite="Strict")
    return response


def _refresh_from(request: Request, data: dict[str, Any]) -> tuple[str, bool]:
    """The refresh token from the body (API clients) or else from the cookie (the browser app)."""
    if data.get("refresh"):
        return data["refresh"], False
    raw = request.COOKIES.get(REFRESH_COOKIE, "")
    if not raw:
        raise ValidationError({"refresh": ["This field is required (in the body, or the app's cookie)."]})
    if not request.headers.get(CSRF_HEADER):
        raise PermissionDenied(f"A cookie-authenticated refresh needs the {CSRF_HEADER} header.")
    return raw, True


# --- authentication ----------------------------------------------------------------------------


class AuthTokenApi(TenantApi):
    authentication_classes = [NoAuthentication]
    required_permission = PUBLIC

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        refresh_transport = serializers.ChoiceField(
            choices=["body", "cookie"],
            default="body",
            help_text="`cookie`: the refresh token is set as an httpOnly SameSite=Strict cookie, not returned.",
        )

    @extend_schema(request=InputSerializer, responses={200: TokenPairOutput}, operation_id="auth_token")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = auth.auth_login(
            request=request._request, email=data.validated_data["email"], password=data.validated_data["password"]
        )
        return _pair(pair, request=request, cookie=data.validated_data["refresh_transport"] == "cookie")


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(
        max_length=2000, required=False, help_text="Omit to use the app's cookie (then send X-Requested-With)."
    )


class AuthTokenRefreshApi(TenantApi):
    authentication_classes = [NoAuthentication]
    required_permission = PUBLIC

    @extend_schema(request=RefreshInput, responses={200: TokenPairOutput}, operation_id="auth_token_refresh")
    def post(self, request: Request) -> Response:
        data = RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        raw, cookie = _refresh_from(request, data.validated_data)
        try:
            pair = auth.auth_refresh(raw_refresh=raw)
        except AuthenticationFailed as exc:
            if not cookie:
                raise
            response = self.handle_exception(exc)  # a dead cookie is cleared so the app stops sending it
            return _clear_cookie(response)
        return _pair(pair, request=request, cookie=cookie)


class AuthLogoutApi(TenantApi):
    authentication_classes = [NoAuthentication]
    required_permission = PUBLIC

    @extend_schema(request=RefreshInput, responses={204: None}, operation_id="auth_logout")
    def post(self, request: Request) -> Response:
        data = RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        raw, cookie = _refresh_from(request, data.validated_data)
        try:
            auth.auth_logout(raw_refresh=raw)
        except AuthenticationFailed as exc:
            if not cookie:
                raise
            return _clear_cookie(self.handle_exception(exc))
        response = Response(status=status.HTTP_204_NO_CONTENT)
        return _clear_cookie(response) if cookie else response


class PasswordChangeApi(TenantApi):
    required_permission = MEMBER

    class InputSerializer(serializers.Serializer):
        current_password = serializers.CharField(max_length=128, trim_whitespace=False)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={204: None}, operation_id="auth_password_change")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        principal: Principal = request.user  # type: ignore[assignment]
        auth.auth_password_change(user_id=principal.id, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(TenantApi):
    authentication_classes = [NoAuthentication]
    required_permission = PUBLIC

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()

    @extend_schema(request=InputSerializer, responses={202: None}, operation_id="auth_password_reset")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auth.auth_password_reset_request(email=data.validated_data["email"])
        return Response(
            {"detail": "If this address belongs to a member, a reset link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmApi(TenantApi):
    authentication_classes = [NoAuthentication]
    required_permission = PUBLIC

    class InputSerializer(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={204: None}, operation_id="auth_password_reset_confirm")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auth.auth_password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TenantInfoApi(TenantApi):
    """Public facts about the organisation this host serves (respondent pages use them)."""

    authentication_classes = [NoAuthentication]
    required_permission = PUBLIC

    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        url = serializers.URLField()

    @extend_schema(responses={200: OutputSerializer}, operation_id="tenant_info")
    def get(self, request: Request) -> Response:
        organisation = self.organisation
        return Response(
            self.OutputSerializer(
                {"slug": organisation.slug, "name": organisation.name, "url": tenant_url(organisation)}
            ).data
        )


# --- me ------------------------------------------------------------------------------------------


class MeUserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class MeTenantOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    url = serializers.URLField()


class MeRoleOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class MeApi(TenantApi):
    required_permission = MEMBER

    class OutputSerializer(serializers.Serializer):
        user = MeUserOutput()
        tenant = MeTenantOutput()
        role = MeRoleOutput()
        permissions = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses={200: OutputSerializer}, operation_id="me")
    def get(self, request: Request) -> Response:
        principal: Principal = request.user  # type: ignore[assignment]
        tenant = self.organisation
        return Response(
            {
                "user": {"id": principal.id, "email": principal.email},
                "tenant": {"slug": tenant.slug, "name": tenant.name, "url": tenant_url(tenant)},
                "role": {"slug": principal.role, "name": principal.role_name},
                "permissions": sorted(principal.permissions),
            }
        )


class PermissionOutput(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()


class PermissionListApi(TenantApi):
    required_permission = MEMBER

    class OutputSerializer(serializers.Serializer):
        permissions = PermissionOutput(many=True)

    @extend_schema(responses={200: OutputSerializer}, operation_id="permission_list")
    def get(self, request: Request) -> Response:
        return Response({"permissions": [{"code": c, "description": d} for c, d in PERMISSIONS.items()]})


# --- members -------------------------------------------------------------------------------------


class MembershipOutput(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    role = serializers.SlugField(source="role.slug")
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class CreatedAtCursor(CursorPagination):
    ordering = ("created_at", "id")
    page_size = 50


class MemberListApi(TenantApi):
    required_permission = "user.manage"

    @extend_schema(
        parameters=[OpenApiParameter("cursor", str, required=False)],
        responses={200: paginated(MembershipOutput(many=True), "PaginatedMembershipList")},
        operation_id="member_list",
    )
    def get(self, request: Request) -> Response:
        paginator = CreatedAtCursor()
        page = paginator.paginate_queryset(selectors.membership_list(), request, view=self)
        return paginator.get_paginated_response(MembershipOutput(page, many=True).data)


class MemberDetailApi(TenantApi):
    required_permission = "user.manage"
    audit_target_type = "membership"

    class UpdateSerializer(serializers.Serializer):
        role = serializers.SlugField(required=False)
        is_active = serializers.BooleanField(required=False)

    def _get(self, pk: int) -> Membership:
        membership = selectors.membership_get(membership_id=pk)
        if membership is None:
            raise NotFound("No such member.")
        return membership

    @extend_schema(responses={200: MembershipOutput}, operation_id="member_get")
    def get(self, request: Request, pk: int) -> Response:
        return Response(MembershipOutput(self._get(pk)).data)

    @extend_schema(request=UpdateSerializer, responses={200: MembershipOutput}, operation_id="member_update")
    def patch(self, request: Request, pk: int) -> Response:
        membership = self._get(pk)
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        role = None
        if "role" in data.validated_data:
            role = selectors.role_by_slug(slug=data.validated_data["role"])
            if role is None:
                raise ValidationError({"role": [f"No role {data.validated_data['role']!r}."]})
        membership = services.membership_update(
            membership=membership, role=role, is_active=data.validated_data.get("is_active")
        )
        return Response(MembershipOutput(self._get(membership.pk)).data)

    @extend_schema(responses={204: None}, operation_id="member_remove")
    def delete(self, request: Request, pk: int) -> Response:
        services.membership_remove(membership=self._get(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- invitations ---------------------------------------------------------------------------------


class InvitationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.SlugField(source="role.slug")
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class InvitationListApi(TenantApi):
    required_permission = "user.manage"

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.SlugField()

    @extend_schema(responses={200: InvitationOutput(many=True)}, operation_id="invitation_list")
    def get(self, request: Request) -> Response:
        invitations = selectors.invitation_open_list()
        return Response(InvitationOutput(invitations, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: InvitationOutput}, operation_id="invitation_create")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        role = selectors.role_by_slug(slug=data.validated_data["role"])
        if role is None:
            raise ValidationError({"role": [f"No role {data.validated_data['role']!r}."]})
        invitation = services.invitation_create(
            email=data.validated_data["email"], role=role, invited_by_id=request.user.pk
        )
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)


class InvitationRevokeApi(TenantApi):
    required_permission = "user.manage"

    @extend_schema(responses={204: None}, operation_id="invitation_revoke")
    def delete(self, request: Request, pk: int) -> Response:
        services.invitation_revoke(invitation=get_object_or_404(Invitation, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptApi(TenantApi):
    authentication_classes = [NoAuthentication]
    required_permission = PUBLIC

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=1000)
        password = serializers.CharField(max_length=128, required=False, trim_whitespace=False)
        full_name = serializers.CharField(max_length=200, required=False, default="")

    @extend_schema(request=InputSerializer, responses={200: MembershipOutput}, operation_id="invitation_accept")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.invitation_accept(
            token=data.validated_data["token"],
            password=data.validated_data.get("password"),
            full_name=data.validated_data["full_name"],
        )
        membership = selectors.membership_list().get(pk=membership.pk)
        return Response(MembershipOutput(membership).data)


# --- roles ---------------------------------------------------------------------------------------


class RoleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())
    is_builtin = serializers.BooleanField()


class RoleInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    permissions = serializers.ListField(child=serializers.CharField(max_length=50), max_length=50)


class RoleListApi(TenantApi):
    required_permission = "user.manage"

    @extend_schema(responses={200: RoleOutput(many=True)}, operation_id="role_list")
    def get(self, request: Request) -> Response:
        return Response(RoleOutput(selectors.role_list(), many=True).data)

    @extend_schema(request=RoleInput, responses={201: RoleOutput}, operation_id="role_create")
    def post(self, request: Request) -> Response:
        data = RoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        role = services.role_create(
            name=data.validated_data["name"],
            permissions=data.validated_data["permissions"],
            description=data.validated_data.get("description", ""),
        )
        return Response(RoleOutput(role).data, status=status.HTTP_201_CREATED)


class RoleDetailApi(TenantApi):
    required_permission = "user.manage"

    @extend_schema(responses={200: RoleOutput}, operation_id="role_get")
    def get(self, request: Request, pk: int) -> Response:
        return Response(RoleOutput(get_object_or_404(Role, pk=pk)).data)

    @extend_schema(request=RoleInput(partial=True), responses={200: RoleOutput}, operation_id="role_update")
    def patch(self, request: Request, pk: int) -> Response:
        role = get_object_or_404(Role, pk=pk)
        data = RoleInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        role = services.role_update(role=role, **data.validated_data)
        return Response(RoleOutput(role).data)

    @extend_schema(responses={204: None}, operation_id="role_delete")
    def delete(self, request: Request, pk: int) -> Response:
        services.role_delete(role=get_object_or_404(Role, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BrandingSchema(serializers.Serializer):
    logo_url = serializers.URLField(required=False, max_length=500)
    primary_color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False)
    accent_color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False)
    css_vars = serializers.DictField(
        child=serializers.CharField(max_length=80), required=False, help_text="Up to 20 CSS variables."
    )


class BrandingApi(TenantApi):
    """The organisation's respondent-page branding (surveys may override it)."""

    required_permission = {"GET": MEMBER, "PUT": "user.manage"}

    @extend_schema(responses={200: BrandingSchema}, operation_id="branding_get")
    def get(self, request: Request) -> Response:
        return Response(self.organisation.branding or {})

    @extend_schema(request=BrandingSchema, responses={200: BrandingSchema}, operation_id="branding_set")
    def put(self, request: Request) -> Response:
        from shared_apps.tenants.models import Organisation
        from shared_apps.tenants.services import tenant_branding_set

        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        organisation = Organisation.objects.get(pk=self.organisation.pk)
        organisation = tenant_branding_set(organisation=organisation, branding=request.data)
        return Response(organisation.branding)
