from django.urls import path

from tenant_apps.privacy import apis

urlpatterns = [
    path("api/v1/privacy/requests/", apis.SubjectRequestListApi.as_view(), name="subject-request-list"),
    path("api/v1/privacy/requests/<uuid:pk>/", apis.SubjectRequestDetailApi.as_view(), name="subject-request-detail"),
    path("api/v1/privacy/exports/", apis.TenantExportListApi.as_view(), name="tenant-export-list"),
    path("api/v1/privacy/exports/<int:pk>/", apis.TenantExportDetailApi.as_view(), name="tenant-export-detail"),
]
