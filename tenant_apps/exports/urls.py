from django.urls import path

from tenant_apps.exports import apis

urlpatterns = [
    path("api/v1/surveys/<int:pk>/exports/", apis.ExportCreateApi.as_view(), name="export-create"),
    path("api/v1/exports/", apis.ExportListApi.as_view(), name="export-list"),
    path("api/v1/exports/<int:pk>/", apis.ExportDetailApi.as_view(), name="export-detail"),
]
