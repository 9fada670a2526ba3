from django.urls import path

from tenant_apps.responses import apis

urlpatterns = [
    path("api/v1/s/<str:link>/draft/", apis.DraftSaveApi.as_view(), name="draft-save"),
    path("api/v1/s/<str:link>/draft/<uuid:uid>/", apis.DraftResumeApi.as_view(), name="draft-resume"),
    path("api/v1/s/<str:link>/draft/<uuid:uid>/email/", apis.DraftEmailApi.as_view(), name="draft-email"),
    path("api/v1/s/<str:link>/submit/", apis.SubmitApi.as_view(), name="submission-create"),
    path("api/v1/surveys/<int:pk>/submissions/", apis.SubmissionListApi.as_view(), name="submission-list"),
    path(
        "api/v1/surveys/<int:pk>/submissions/<uuid:uid>/", apis.SubmissionDetailApi.as_view(), name="submission-detail"
    ),
    path("api/v1/s/<str:link>/files/", apis.FileUploadApi.as_view(), name="file-upload"),
    path("api/v1/surveys/<int:pk>/files/", apis.FileUrlApi.as_view(), name="file-url"),
    path("api/v1/files/<str:token>", apis.FileDownloadApi.as_view(), name="file-download"),
]
