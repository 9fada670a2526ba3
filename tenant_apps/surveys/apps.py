from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "tenant_apps.surveys"
    label = "surveys"
