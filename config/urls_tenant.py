"""URLs of an organisation's host (<slug>.PLATFORM_DOMAIN)."""

from django.urls import path

from config.urls_common import api_doc_patterns
from shared_apps.tenants.apis import TenantInfoApi

urlpatterns = [
    path("api/v1/tenant/", TenantInfoApi.as_view(), name="tenant-info"),
    *api_doc_patterns("config.urls_tenant"),
]

handler400 = "shared_apps.core.errors.handler400"
handler403 = "shared_apps.core.errors.handler403"
handler404 = "shared_apps.core.errors.handler404"
handler500 = "shared_apps.core.errors.handler500"
