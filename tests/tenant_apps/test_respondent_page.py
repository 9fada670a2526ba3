"""The branded respondent page (server side) and the branding API."""

from __future__ import annotations

import copy
import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from shared_apps.tenants.models import Organisation
from tenant_apps.surveys import services
from tenant_apps.surveys.models import Survey
from tests.conftest import host_of


def _published(tenant, definition=None, **settings):
    with tenant_context(tenant):
        return services.survey_create_published(
            title="Page test", definition=definition or copy.deepcopy(services.DEMO_DEFINITION), **settings
        )


def test_page_is_branded_and_inlines_the_survey_safely(make_tenant):
    tenant = make_tenant(name="Brandy & Co")
    Organisation.objects.filter(pk=tenant.pk).update(
        branding={
            "primary_color": "#aa3300",
            "logo_url": "https://cdn.example.com/logo.png",
            "css_vars": {"radius": "4px", "evil": "red;} body{display:none"},
        }
    )
    definition = copy.deepcopy(services.DEMO_DEFINITION)
    definition["pages"][0]["questions"][0]["text"] = "Name? </script><script>alert(1)</script>"
    survey = _published(tenant, definition)
    response = Client(HTTP_HOST=host_of(tenant)).get(f"/s/{survey.public_link}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Brandy &amp; Co" in html
    assert "--brand: #aa3300" in html
    assert "--radius: 4px" in html
    assert "display:none" not in html  # an unsafe CSS value is dropped
    assert 'src="https://cdn.example.com/logo.png"' in html
    assert "</script><script>alert(1)" not in html
    inline = html.split('id="survey-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(inline)["survey"]["title"] == "Page test"
    assert "/static/surveys/respondent.js" in html
    assert 'name="viewport"' in html


@pytest.mark.parametrize(
    ("settings", "status", "code"),
    [
        ({"response_limit": 1, "_full": True}, 410, "survey_full"),
        ({"access": "authenticated"}, 401, "sign_in_required"),
    ],
)
def test_status_pages(tenant_a, settings, status, code):
    full = settings.pop("_full", False)
    survey = _published(tenant_a, **settings)
    if full:
        with tenant_context(tenant_a):
            Survey.objects.filter(pk=survey.pk).update(response_count=1)
            services.survey_update_settings(survey=survey, notify_owners=False)
    response = Client(HTTP_HOST=host_of(tenant_a)).get(f"/s/{survey.public_link}")
    assert response.status_code == status
    assert f'data-status="{code}"' in response.content.decode()


def test_closed_and_unknown_links_have_pages(tenant_a, tenant_b):
    survey = _published(tenant_a)
    with tenant_context(tenant_a):
        services.survey_close(survey=survey)
    closed = Client(HTTP_HOST=host_of(tenant_a)).get(f"/s/{survey.public_link}")
    assert closed.status_code == 410
    assert "This survey is closed" in closed.content.decode()
    assert Client(HTTP_HOST=host_of(tenant_a)).get("/s/nothing-here").status_code == 404
    other = _published(tenant_a)
    assert Client(HTTP_HOST=host_of(tenant_b)).get(f"/s/{other.public_link}").status_code == 404


def test_branding_api_validates_and_is_per_tenant(make_tenant, make_member, api_client_for, tenant_b):
    tenant = make_tenant()
    admin = api_client_for(make_member(tenant, "admin"), tenant)
    good = {"primary_color": "#112233", "accent_color": "#fafafa", "css_vars": {"radius": "12px"}}
    assert admin.put("/api/v1/branding/", good, content_type="application/json").json() == good
    for bad in (
        {"primary_color": "red"},
        {"logo_url": "javascript:alert(1)"},
        {"css_vars": {"x": "a;b"}},
        {"font": "Comic Sans"},
    ):
        response = admin.put("/api/v1/branding/", bad, content_type="application/json")
        assert response.status_code == 400, bad
    analyst = api_client_for(make_member(tenant, "analyst"), tenant)
    assert analyst.put("/api/v1/branding/", good, content_type="application/json").status_code == 403
    assert analyst.get("/api/v1/branding/").json() == good
    other_admin = api_client_for(make_member(tenant_b, "admin"), tenant_b)
    assert other_admin.get("/api/v1/branding/").json() != good
