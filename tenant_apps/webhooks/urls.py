from django.urls import path

from tenant_apps.webhooks import apis

W = "api/v1/webhooks"
urlpatterns = [
    path(f"{W}/", apis.WebhookListApi.as_view(), name="webhook-list"),
    path(f"{W}/<int:pk>/", apis.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(f"{W}/<int:pk>/rotate-secret/", apis.WebhookRotateSecretApi.as_view(), name="webhook-rotate-secret"),
    path(f"{W}/<int:pk>/deliveries/", apis.WebhookDeliveryListApi.as_view(), name="webhook-delivery-list"),
    path(
        f"{W}/<int:pk>/deliveries/<int:delivery_id>/",
        apis.WebhookDeliveryDetailApi.as_view(),
        name="webhook-delivery-detail",
    ),
    path(
        f"{W}/<int:pk>/deliveries/<int:delivery_id>/redeliver/",
        apis.WebhookRedeliverApi.as_view(),
        name="webhook-redeliver",
    ),
]
