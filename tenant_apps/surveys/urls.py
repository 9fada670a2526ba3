from django.urls import path

from tenant_apps.surveys import apis

urlpatterns = [
    path("api/v1/surveys/", apis.SurveyListApi.as_view(), name="survey-list"),
    path("api/v1/surveys/import/", apis.SurveyImportApi.as_view(), name="survey-import"),
    path("api/v1/surveys/<int:pk>/", apis.SurveyDetailApi.as_view(), name="survey-detail"),
    path("api/v1/surveys/<int:pk>/definition/", apis.SurveyDefinitionApi.as_view(), name="survey-definition"),
    path("api/v1/surveys/<int:pk>/pages/", apis.PageListApi.as_view(), name="page-list"),
    path("api/v1/surveys/<int:pk>/pages/reorder/", apis.PageReorderApi.as_view(), name="page-reorder"),
    path("api/v1/surveys/<int:pk>/pages/<str:page_id>/", apis.PageDetailApi.as_view(), name="page-detail"),
    path(
        "api/v1/surveys/<int:pk>/pages/<str:page_id>/questions/", apis.QuestionListApi.as_view(), name="question-list"
    ),
    path(
        "api/v1/surveys/<int:pk>/questions/<str:question_id>/", apis.QuestionDetailApi.as_view(), name="question-detail"
    ),
    path(
        "api/v1/surveys/<int:pk>/questions/<str:question_id>/move/",
        apis.QuestionMoveApi.as_view(),
        name="question-move",
    ),
    path("api/v1/surveys/<int:pk>/duplicate/", apis.SurveyDuplicateApi.as_view(), name="survey-duplicate"),
    path("api/v1/surveys/<int:pk>/validate/", apis.SurveyValidateApi.as_view(), name="survey-validate"),
    path("api/v1/surveys/<int:pk>/publish/", apis.SurveyPublishApi.as_view(), name="survey-publish"),
    path(
        "api/v1/surveys/<int:pk>/publications/<int:publication_id>/",
        apis.PublicationDetailApi.as_view(),
        name="publication-detail",
    ),
    path("api/v1/surveys/<int:pk>/close/", apis.SurveyCloseApi.as_view(), name="survey-close"),
    path("api/v1/surveys/<int:pk>/reopen/", apis.SurveyReopenApi.as_view(), name="survey-reopen"),
    path("api/v1/surveys/<int:pk>/archive/", apis.SurveyArchiveApi.as_view(), name="survey-archive"),
    path("api/v1/surveys/<int:pk>/versions/", apis.SurveyVersionListApi.as_view(), name="survey-version-list"),
    path(
        "api/v1/surveys/<int:pk>/versions/<int:number>/",
        apis.SurveyVersionDetailApi.as_view(),
        name="survey-version-detail",
    ),
    path("api/v1/surveys/<int:pk>/export/", apis.SurveyExportApi.as_view(), name="survey-export"),
    path("api/v1/s/<str:link>/", apis.SurveyLoadApi.as_view(), name="survey-load"),
]
