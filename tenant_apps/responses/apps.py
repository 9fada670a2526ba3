from django.apps import AppConfig


class ResponsesConfig(AppConfig):
    name = "tenant_apps.responses"
    label = "responses"
