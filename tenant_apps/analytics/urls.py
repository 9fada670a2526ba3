from django.urls import path

from tenant_apps.analytics import apis

S = "api/v1/surveys/<int:pk>/analytics/"
urlpatterns = [
    path(S, apis.SurveyAnalyticsApi.as_view(), name="analytics-summary"),
    path(f"{S}questions/<str:question_id>/", apis.QuestionAnalyticsApi.as_view(), name="analytics-question"),
    path(f"{S}timeseries/", apis.TimeseriesAnalyticsApi.as_view(), name="analytics-timeseries"),
    path(f"{S}funnel/", apis.FunnelAnalyticsApi.as_view(), name="analytics-funnel"),
    path(f"{S}crosstab/", apis.CrosstabAnalyticsApi.as_view(), name="analytics-crosstab"),
]
