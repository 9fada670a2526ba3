"""URLs of the platform host (PLATFORM_DOMAIN): signup, API docs, metrics and the operators' admin."""

from django.urls import path

from billing.apis import StripeWebhookApi
from config.urls_common import api_doc_patterns
from shared_apps.core.metrics import metrics_view
from shared_apps.operators.admin import operator_site
from shared_apps.tenants.apis import SignupCreateApi, SignupStatusApi, SignupVerifyApi
from shared_apps.tenants.views import product_page, signup_verify_page

urlpatterns = [
    path("", product_page, name="product-page"),
    path("api/v1/signup/", SignupCreateApi.as_view(), name="signup-create"),
    path("api/v1/signup/verify/", SignupVerifyApi.as_view(), name="signup-verify"),
    path("signup/verify/", signup_verify_page, name="signup-verify-page"),
    path("api/v1/signup/<uuid:public_id>/", SignupStatusApi.as_view(), name="signup-status"),
    path("api/v1/billing/webhook/", StripeWebhookApi.as_view(), name="billing-webhook"),
    *api_doc_patterns("config.urls_public"),
    path("admin/", operator_site.urls),  # platform operators only (is_platform_staff)
    path("metrics", metrics_view, name="metrics"),  # platform host only, behind METRICS_TOKEN
]

handler400 = "shared_apps.core.errors.handler400"
handler403 = "shared_apps.core.errors.handler403"
handler404 = "shared_apps.core.errors.handler404"
handler500 = "shared_apps.core.errors.handler500"
