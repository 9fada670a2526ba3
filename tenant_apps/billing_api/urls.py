from django.urls import path

from tenant_apps.billing_api import apis

urlpatterns = [
    path("api/v1/billing/", apis.BillingDetailApi.as_view(), name="billing-detail"),
    path("api/v1/billing/checkout/", apis.BillingCheckoutApi.as_view(), name="billing-checkout"),
    path("api/v1/billing/portal/", apis.BillingPortalApi.as_view(), name="billing-portal"),
]
