"""Every API names a version by its number (1, 2, ...), never by the row id of SurveyVersion."""

from __future__ import annotations

import copy

from django.test import Client
from django_tenants.utils import tenant_context

from tenant_apps.surveys import services
from tenant_apps.surveys.models import SurveyVersion
from tests.conftest import host_of

GOOD = {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "Fast", "q_features": ["logic", "analytics"]}


def test_submission_list_detail_and_versions_agree_on_the_version_number(tenant_a, make_member, api_client_for):
    with tenant_context(tenant_a):
        for _ in range(2):  # other surveys' versions: row ids and numbers part ways
            services.survey_create_published(title="Other", definition=copy.deepcopy(services.DEMO_DEFINITION))
        survey = services.survey_create_published(title="Twice", definition=copy.deepcopy(services.DEMO_DEFINITION))
        services.question_update(survey=survey, question_id="q_name", changes={"text": "Your nickname?"})
        publication = services.publication_request(survey=survey, requested_by_id=None)
        services.publication_compile_run(publication=publication)
        version = SurveyVersion.objects.get(survey=survey, number=2)
    assert version.pk != 2
    respondent = Client(HTTP_HOST=host_of(tenant_a))
    submitted = respondent.post(
        f"/api/v1/s/{survey.public_link}/submit/", {"answers": GOOD}, content_type="application/json"
    )
    assert submitted.status_code in (200, 201), submitted.content
    uid = submitted.json()["submission_id"]
    admin = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    listed = admin.get(f"/api/v1/surveys/{survey.pk}/submissions/").json()["results"]
    detail = admin.get(f"/api/v1/surveys/{survey.pk}/submissions/{uid}/").json()
    assert [s["version"] for s in listed] == [2]
    assert detail["version"] == 2
    by_number = admin.get(f"/api/v1/surveys/{survey.pk}/versions/{detail['version']}/")
    assert by_number.status_code == 200
    assert by_number.json()["number"] == 2
