"""URLs of an organisation's host (<slug>.PLATFORM_DOMAIN)."""

from django.urls import path, re_path

from config.urls_common import api_doc_patterns
from shared_apps.core.webapp import staff_app, tenant_home
from tenant_apps.analytics.urls import urlpatterns as analytics_urls
from tenant_apps.audit.apis import AuditEventListApi
from tenant_apps.billing_api.urls import urlpatterns as billing_urls
from tenant_apps.distribution.urls import urlpatterns as distribution_urls
from tenant_apps.distribution.views import unsubscribe_page
from tenant_apps.exports.urls import urlpatterns as export_urls
from tenant_apps.members import apis as members
from tenant_apps.members.views import invitation_accept_page
from tenant_apps.privacy.urls import urlpatterns as privacy_urls
from tenant_apps.responses.urls import urlpatterns as response_urls
from tenant_apps.responses.views import respondent_page
from tenant_apps.surveys.urls import urlpatterns as survey_urls
from tenant_apps.webhooks.urls import urlpatterns as webhook_urls

urlpatterns = [
    path("", tenant_home, name="tenant-home"),
    re_path(r"^app/(?P<path>.*)$", staff_app, name="staff-app"),
    path("api/v1/tenant/", members.TenantInfoApi.as_view(), name="tenant-info"),
    path("api/v1/auth/token/", members.AuthTokenApi.as_view(), name="auth-token"),
    path("api/v1/auth/token/refresh/", members.AuthTokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("api/v1/auth/logout/", members.AuthLogoutApi.as_view(), name="auth-logout"),
    path("api/v1/auth/password/change/", members.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("api/v1/auth/password/reset/", members.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "api/v1/auth/password/reset/confirm/",
        members.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("api/v1/me/", members.MeApi.as_view(), name="me"),
    path("api/v1/permissions/", members.PermissionListApi.as_view(), name="permission-list"),
    path("api/v1/members/", members.MemberListApi.as_view(), name="member-list"),
    path("api/v1/members/<int:pk>/", members.MemberDetailApi.as_view(), name="member-detail"),
    path("api/v1/invitations/", members.InvitationListApi.as_view(), name="invitation-list"),
    path("api/v1/invitations/accept/", members.InvitationAcceptApi.as_view(), name="invitation-accept"),
    path("api/v1/invitations/<int:pk>/", members.InvitationRevokeApi.as_view(), name="invitation-revoke"),
    path("api/v1/roles/", members.RoleListApi.as_view(), name="role-list"),
    path("api/v1/roles/<int:pk>/", members.RoleDetailApi.as_view(), name="role-detail"),
    path("api/v1/audit/", AuditEventListApi.as_view(), name="audit-list"),
    path("api/v1/branding/", members.BrandingApi.as_view(), name="branding"),
    *survey_urls,
    *response_urls,
    *analytics_urls,
    *export_urls,
    *webhook_urls,
    *distribution_urls,
    *privacy_urls,
    *billing_urls,
    path("s/<str:link>", respondent_page, name="respondent-page"),
    path("invitations/accept", invitation_accept_page, name="invitation-accept-page"),
    path("unsubscribe", unsubscribe_page, name="unsubscribe-page"),
    *api_doc_patterns("config.urls_tenant"),
]

handler400 = "shared_apps.core.errors.handler400"
handler403 = "shared_apps.core.errors.handler403"
handler404 = "shared_apps.core.errors.handler404"
handler500 = "shared_apps.core.errors.handler500"
