from django.urls import path

from tenant_apps.distribution import apis

urlpatterns = [
    path("api/v1/contacts/", apis.ContactListApi.as_view(), name="contact-list"),
    path("api/v1/contacts/import/", apis.ContactImportApi.as_view(), name="contact-import"),
    path("api/v1/contacts/<int:pk>/", apis.ContactDetailApi.as_view(), name="contact-detail"),
    path("api/v1/contact-lists/", apis.ContactListsApi.as_view(), name="contact-list-list"),
    path("api/v1/contact-lists/<int:pk>/", apis.ContactListDetailApi.as_view(), name="contact-list-detail"),
    path("api/v1/contact-lists/<int:pk>/members/", apis.ContactListMembersApi.as_view(), name="contact-list-members"),
    path("api/v1/surveys/<int:pk>/distributions/", apis.DistributionCreateApi.as_view(), name="distribution-create"),
    path("api/v1/distributions/<int:pk>/", apis.DistributionDetailApi.as_view(), name="distribution-detail"),
    path(
        "api/v1/distributions/<int:pk>/invitations/",
        apis.DistributionInvitationsApi.as_view(),
        name="distribution-invitations",
    ),
]
